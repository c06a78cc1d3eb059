"""Operator tools against a reference-cell node: calibration files, tactile check, bus monitor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from tests.conftest import NodeProcess
from tools import calibration, tactile_check

pytestmark = pytest.mark.integration
LOCKSTEP = ["cell.lockstep=true"]


def _cell(node: NodeProcess) -> Cell:
    return Cell.connect(node.config, node.overrides)


@pytest.mark.parametrize("reference_node", [LOCKSTEP], indirect=True)
def test_tactile_zero_file_is_complete_and_atomic(reference_node: NodeProcess, tmp_path: Path) -> None:
    out = tmp_path / "calib" / "tactile_zero.json"
    with _cell(reference_node) as cell:
        result = calibration.run_tactile_zero(cell, out, frames=20)
    data = json.loads(out.read_text())
    assert np.asarray(data["tactile_zero_n"]).shape == joints.TACTILE_SHAPE
    assert data["frames"] == 20 and result["max_abs_zero_n"] < 0.05
    assert [p.name for p in out.parent.iterdir()] == ["tactile_zero.json"]  # no temporary left behind


@pytest.mark.parametrize("reference_node", [LOCKSTEP], indirect=True)
def test_joint_offsets_map_the_held_pose_to_the_reference(reference_node: NodeProcess, tmp_path: Path) -> None:
    out = tmp_path / "offsets.json"
    reference = np.linspace(0.0, 0.1, 12)
    with _cell(reference_node) as cell:
        held = cell.hand.state().q_rad
        calibration.run_joint_offsets(cell, out, reference.tolist(), frames=10)
        np.testing.assert_allclose(json.loads(out.read_text())["joint_offsets_rad"], reference - held, atol=1e-9)
        # a hand that moves during the measurement is refused and nothing is written
        curl = np.clip(np.full(12, 1.2), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad)
        cell.hand.command(curl)
        with pytest.raises(calibration.CalibrationRefused, match="hold the hand still"):
            calibration.run_joint_offsets(cell, tmp_path / "moving.json", None, frames=10)
    assert not (tmp_path / "moving.json").exists()


@pytest.mark.parametrize("reference_node", [LOCKSTEP], indirect=True)
def test_tactile_check_at_rest_and_pressed(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        assert tactile_check.run(cell, frames=10, press=None, min_press_n=0.5)["ok"]
        q = cell.hand.state().q_rad.copy()
        q[4:6] = [1.4, 1.4]  # curl the index finger onto its (synthetic) contact
        for _ in cell.clock.ticks(20):
            cell.hand.command(q)
        pressed = tactile_check.run(cell, frames=10, press="index", min_press_n=0.5)
        assert pressed["ok"], pressed["problems"]
        wrong_finger = tactile_check.run(cell, frames=10, press="thumb", min_press_n=0.5)
        assert not wrong_finger["ok"]
        assert any("thumb: pressed" in p for p in wrong_finger["problems"])
