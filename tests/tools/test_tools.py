"""The operator tools as a whole: verbs and aliases, `python -m tools.<name>`, and what the tools may see."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk.cli import build_parser
from tests.conftest import REPO, NodeProcess
from tools import cli as tools_cli

TOOLS = REPO / "tools"


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["calibrate", "hand", "twin_cell", "--out", "x.json"], "tools.hand_calibration"),
        (["calibrate", "joint-offsets", "twin_cell", "--out", "x.json"], "tools.hand_calibration"),
        (["calibrate", "tactile", "twin_cell", "--out", "x.json"], "tools.tactile_calibration"),
        (["calibrate", "tactile-zero", "twin_cell", "--out", "x.json"], "tools.tactile_calibration"),
        (["calibrate", "arm", "hil_cell"], "tools.arm_check"),
        (["tactile-check", "twin_cell"], "tools.tactile_check"),
        (["bus-monitor", "twin_cell"], "tools.bus_monitor"),
        (["dataset", "plot", "some/dataset", "--out", "plots"], "tools.dataset_plot"),
    ],
)
def test_every_tool_is_a_dexscrew_verb(argv: list[str], module: str) -> None:
    args = build_parser().parse_args(argv)
    assert args.func.__module__ == module


@pytest.mark.parametrize("module", tools_cli.TOOL_MODULES)
def test_every_tool_runs_as_a_module(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", f"tools.{module}", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def _attributes_and_imports(path: Path) -> tuple[set[str], set[str], set[str]]:
    tree = ast.parse(path.read_text())
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return attrs, imports, strings


@pytest.mark.parametrize("path", sorted(TOOLS.glob("*.py")), ids=lambda p: p.name)
def test_tools_see_only_arm_hand_and_tactile(path: Path) -> None:
    """Never the World, never the twin or its fault parameters: only what a real cell offers."""
    attrs, imports, strings = _attributes_and_imports(path)
    assert "world" not in attrs and "perturb" not in attrs
    assert not any(i == "twins" or i.startswith("twins.") for i in imports)
    assert not {"sensors", "faults", "remove_jig"} & (attrs | strings)  # the twin's configuration and actions
    assert not any(s.startswith("press_") for s in strings)


def test_the_old_calibrate_verbs_still_work(reference_node: NodeProcess, tmp_path: Path) -> None:
    out = tmp_path / "tactile_zero.json"
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "calibrate", "tactile-zero", str(reference_node.config)]
    for o in [*reference_node.overrides]:
        cmd += ["--set", o]
    done = subprocess.run(
        [*cmd, "--out", str(out), "--frames", "20", "--yes"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["file"]["revision"] == 1
    assert cf.load_tactile_baseline(out).arrays["baseline_n"].shape == (5, 120, 3)
    bad = subprocess.run([*cmd, "--out", str(out), "--frames", "3", "--yes"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "--frames 3" in bad.stderr
