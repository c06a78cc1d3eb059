"""`dexscrew run-policy` through the bus against a real reference-cell node in lockstep."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.ports import free_base_port
from policies.bc.deploy import load_policy, run_policy
from tests.conftest import REFERENCE_CELL, start_node

pytestmark = pytest.mark.integration


def _lockstep_node() -> tuple[object, list[str]]:
    overrides = [f"nodes.cell.base_port={free_base_port()}", "cell.lockstep=true"]
    return start_node(REFERENCE_CELL, "cell", overrides), overrides


def _arm_trajectory(trained: Path) -> np.ndarray:
    node, overrides = _lockstep_node()
    try:
        with Cell.connect(REFERENCE_CELL, overrides) as cell:
            q: list[np.ndarray] = []
            report = run_policy(cell, load_policy(trained), 1.5, on_step=lambda i: q.append(cell.arm.state().q_rad))
            assert report.fault is None and report.steps == 30
            return np.array(q)
    finally:
        node.kill(signal.SIGTERM)


def test_lockstep_runs_are_deterministic(trained: Path) -> None:
    a, b = _arm_trajectory(trained), _arm_trajectory(trained)
    assert np.abs(a[-1] - a[0]).max() > 1e-4  # the policy moved the arm
    np.testing.assert_array_equal(a, b)


def test_run_policy_verb_runs_and_refuses_a_mismatched_cell(trained: Path) -> None:
    node, overrides = _lockstep_node()
    sets = [x for o in overrides for x in ("--set", o)]
    try:
        cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "run-policy", str(trained), str(REFERENCE_CELL), *sets]
        run = [*cmd, "--seconds", "1", "--mode", "ensemble"]
        res = subprocess.run(run, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out["steps"] == 20 and out["plans"] == 20 and out["fault"] is None
        assert out["deploy"]["mode"] == "ensemble"
        res = subprocess.run([*cmd, "--set", "cell.control_hz=10"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 2
        assert "PolicyMismatch" in res.stderr and "control rate: checkpoint 20 Hz, cell 10 Hz" in res.stderr
    finally:
        node.kill(signal.SIGTERM)
