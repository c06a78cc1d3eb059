"""`dexscrew demo` end to end at a reduced size: record, train the BC variants, evaluate, report, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dexscrew_sdk.evaluation import catalog, demo_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDUCED = ["--demos-per-object", "2", "--epochs", "2", "--trials", "1", "--perturbation-trials", "0",
           "--demo-seconds", "12", "--trial-seconds", "3", "--turns", "0.25", "--all-episodes"]  # fmt: skip


def demo(out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "demo", "--out", str(out), *REDUCED]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.timeout(1800)  # the whole method, twice (the second run only reads what the first wrote)
def test_the_whole_method_runs_in_one_command_and_a_rerun_resumes_without_redoing_steps(tmp_path: Path) -> None:
    try:
        demo_pipeline.preflight()
    except demo_pipeline.StageMissing as exc:
        pytest.skip(str(exc))
    done = demo(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["wall_s"] > 0
    for method in catalog.METHODS:
        for o in catalog.OBJECTS:
            assert 0.0 <= last[f"progress.{method}.{o.shape}"] <= 1.0
    report = tmp_path / "report"
    assert "Table I" in done.stdout and "Table II" in done.stdout
    for name in ("tables.md", "trials.json", "summary.json", "commands.md", "plots/outcome_nut.png"):
        assert (report / name).is_file(), name
    commands = (report / "commands.md").read_text()
    assert commands.count("dexscrew record") == 4 and commands.count("dexscrew train-bc") == 8
    again = demo(tmp_path)  # everything finished: nothing reruns, the same figures come out
    assert again.returncode == 0, again.stderr[-3000:]
    assert "start:" not in again.stderr
    assert {
        k: v for k, v in json.loads(again.stdout.strip().splitlines()[-1]).items() if k.startswith("progress.")
    } == {k: v for k, v in last.items() if k.startswith("progress.")}
