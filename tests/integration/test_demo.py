"""End to end: `dexscrew demo` brings a cell up, runs its session through the bus, stops it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dexscrew_sdk.ports import free_base_port
from tests.conftest import CONFIGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _demo(config: str, node: str, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "demo", str(CONFIGS / config),
           "--set", f"nodes.{node}.base_port={free_base_port()}", *extra]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_demo_on_the_reference_cell_runs_the_scripted_motion() -> None:
    summary = _demo("reference_cell.toml", "cell", "--periods", "40")
    assert summary["periods"] == 40
    assert summary["arm_final_error_rad"] < 1e-3
    assert summary["peak_fingertip_normal_force_n"] > 0.5  # the hand closed onto its synthetic contact


def test_demo_on_the_twin_turns_the_nut_with_the_shipped_skill() -> None:
    summary = _demo("twin_cell.toml", "twin", "--seconds", "10")
    assert summary["skill_steps"] == 200 and summary["nan_actions"] == 0
    assert summary["sim_time_s"] == pytest.approx(10.0, abs=0.1)
    assert summary["arm_drift_rad"] < 0.01
    assert summary["turns_done"] > 0.03  # fastening direction; 10 s of the 15 s figure in docs/twins.md
    assert max(summary["peak_normal_force_per_fingertip_n"]) > 0.5  # touch registers the grasp
