"""`dexscrew up` with the hardware-in-the-loop cell serves the same Arm as the reference cell.

One scripted joint-space motion runs unchanged through `Cell.connect(...).arm`
on both: the kinematic reference cell, and the real UR5e driver (ur_rtde)
talking to the UR controller emulator on loopback.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.ports import free_base_port
from dexscrew_sdk.records import DeviceMode
from dexscrew_sdk.remote import RemoteArm

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
HOME = joints.UR5E_HOME_RAD
OFFSET = np.array([0.15, -0.1, 0.1, 0.05, -0.05, 0.2])


@contextmanager
def cell_up(config: str, overrides: list[str]) -> Iterator[Cell]:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "up", config]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the launcher prints "cell <name> ready" once every node answers
            if "ready" in line:
                break
        else:
            raise AssertionError(f"`dexscrew up {config}` exited with {proc.wait()}")
        with Cell.connect(config, overrides, connect_timeout_s=20.0) as cell:
            yield cell
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scripted_motion(cell: Cell) -> np.ndarray:
    """Application code: home, then stream a ramp at the cell's control rate; returns where the arm ended."""
    arm = cell.arm
    arm.move_to(HOME, speed_rad_s=1.0)
    n = 20
    for i in range(1, n + 1):
        arm.servo(HOME + OFFSET * i / n)
        cell.clock.wait()
    target = HOME + OFFSET
    deadline = time.monotonic() + 3.0
    while np.max(np.abs(arm.state().q_rad - target)) > 2e-3:
        assert time.monotonic() < deadline, f"arm did not reach the target: {arm.state().q_rad}"
        arm.servo(target)
        cell.clock.wait()
    return arm.state().q_rad


def test_one_script_runs_unchanged_on_reference_and_hil_cells() -> None:
    results = {}
    infos = {}
    for config, node_names in (("reference_cell", ["cell"]), ("hil_cell", ["cell", "arm"])):
        overrides = [f"nodes.{n}.base_port={free_base_port()}" for n in node_names]
        with cell_up(config, overrides) as cell:
            assert isinstance(cell.arm, RemoteArm)
            infos[config] = cell.arm.info()
            results[config] = scripted_motion(cell)
            assert cell.arm.state().mode in (DeviceMode.SERVOING, DeviceMode.IDLE)
            assert cell.tactile.frame().force_n.shape == joints.TACTILE_SHAPE
    ref, hil = results["reference_cell"], results["hil_cell"]
    np.testing.assert_allclose(ref, HOME + OFFSET, atol=2e-3)
    np.testing.assert_allclose(hil, HOME + OFFSET, atol=2e-3)
    assert infos["hil_cell"].model == "ur5e"
    assert infos["hil_cell"].joint_names == infos["reference_cell"].joint_names
