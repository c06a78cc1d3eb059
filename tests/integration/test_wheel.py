"""A regular install works anywhere: build the wheel, install it into a fresh venv outside the repository, run.

The wheel is built from a copy of the tree (the tree itself stays clean) and
installed into a new virtual environment in a temporary directory; the heavy
dependencies come from pip's local wheels and index (torch from /opt/wheels on
these machines), never from the tree. Everything then runs from another
temporary directory with PYTHONPATH unset, so only the installed packages can
be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dexscrew_sdk.ports import free_base_port
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACKAGES = ("dexscrew_sdk", "twins", "drivers", "policies", "tools")
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache",
                              ".ruff_cache", "runs", "out", "tests")  # fmt: skip


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.timeout(420)
def test_the_wheel_installed_outside_the_repository_runs_the_demo() -> None:
    base = Path(tempfile.mkdtemp(prefix="dexscrew-wheel-"))  # outside the repository, whatever pytest's basetemp
    assert REPO not in base.parents
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        src, dist, venv, work = base / "src", base / "dist", base / "venv", base / "work"
        shutil.copytree(REPO, src, ignore=SKIP)
        pip = [sys.executable, "-m", "pip"]
        # this environment's setuptools (torch requires >= 77): no network and no index needed to build
        _run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], base, env, 180)
        (wheel,) = dist.glob("dexscrew_sdk-*.whl")
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env, 60)
        python = venv / "bin" / "python"
        into = [*pip, "--python", str(python), "install", "-q", "--no-compile"]
        # torch first, alone and without its optional extras: the local CPU build (a bare `torch` pulls CUDA)
        _run([*into, "--no-deps", "torch==2.13.0"], base, env, 240)
        _run([*into, f"{wheel}[sim]", "typing_extensions"], base, env, 240)
        work.mkdir()
        where = _run(
            [str(python), "-c", f"import json, {', '.join(PACKAGES)}; "
             f"print(json.dumps({{m: __import__(m).__file__ for m in {PACKAGES!r}}}))"],
            work, env, 60,
        )  # fmt: skip
        files = json.loads(where.stdout)
        site = venv.resolve()
        for module, path in files.items():
            assert site in Path(path).resolve().parents, f"{module} imported from {path}, not from the venv"
        dexscrew = str(venv / "bin" / "dexscrew")
        assert "--seconds" in _run([dexscrew, "demo", "--help"], work, env, 60).stdout
        port = free_base_port()
        # the skill session on the twin (a configuration given: not the whole-method pipeline), by bare name
        demo = [dexscrew, "demo", "twin_cell", "--seconds", "2", "--set", f"nodes.twin.base_port={port}"]
        done = _run(demo, work, env, 180)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["sim_time_s"] == pytest.approx(2.0, abs=0.06) and summary["skill_steps"] == 40
        assert Path(summary["skill"]).resolve().is_relative_to(site)  # the shipped skill, from the package
        assert summary["config"] == "twin_cell"  # the shipped configuration, by its bare name
    finally:
        shutil.rmtree(base, ignore_errors=True)
