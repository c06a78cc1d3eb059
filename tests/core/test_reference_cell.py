"""The kinematic reference devices, in process: tracking, moves, safety and the e-stop latch."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.errors import CommandRejected, EmergencyStopActive
from dexscrew_sdk.records import DeviceMode
from dexscrew_sdk.reference import KinematicCell
from dexscrew_sdk.safety import Workspace


def test_hand_tracks_targets_within_speed_limits() -> None:
    cell = KinematicCell()
    target = np.clip(np.full(12, 1.0), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad)
    seq = cell.hand.command(target)
    cell.advance(0.01)
    moved = np.abs(cell.hand.q - 0.0)
    assert (moved <= joints.XHAND_MAX_SPEED_RAD_S * 0.01 + 1e-12).all()
    cell.advance(1.0)
    np.testing.assert_allclose(cell.hand.q, target, atol=1e-3)
    assert cell.hand.state().cmd_seq == seq


def test_rejected_command_keeps_last_safe_target() -> None:
    cell = KinematicCell()
    good = np.full(12, 0.1)
    cell.hand.command(good)
    bad = good.copy()
    bad[3] = np.nan
    with pytest.raises(CommandRejected, match="entry 3"):
        cell.hand.command(bad)
    with pytest.raises(CommandRejected, match="outside"):
        cell.hand.command(np.full(12, 5.0))
    np.testing.assert_array_equal(cell.hand.target, good)


def test_arm_move_to_is_blocking_and_exact() -> None:
    cell = KinematicCell()
    goal = joints.UR5E_HOME_RAD + 0.3
    cell.arm.move_to(goal, speed_rad_s=1.0)
    np.testing.assert_allclose(cell.arm.state().q_rad, goal)
    assert cell.arm.state().mode == DeviceMode.IDLE
    assert cell.time_s == pytest.approx(0.3, abs=0.06)  # 0.3 rad at 1 rad/s


def test_workspace_rejects_before_the_arm_moves() -> None:
    cell = KinematicCell(workspace=Workspace((-1, -1, 0.3), (1, 1, 1)))
    q_low = joints.UR5E_HOME_RAD.copy()
    q_low[1] = 0.0  # shoulder horizontal: the TCP drops below z = 0.3 m
    with pytest.raises(CommandRejected, match="workspace"):
        cell.arm.servo(q_low)
    assert cell.arm.state().mode == DeviceMode.IDLE


def test_emergency_stop_latches_until_released() -> None:
    cell = KinematicCell()
    cell.arm.servo(joints.UR5E_HOME_RAD + 0.1)
    cell.advance(0.01)
    cell.arm.emergency_stop()
    q_stop = cell.arm.q.copy()
    cell.advance(0.5)
    np.testing.assert_array_equal(cell.arm.q, q_stop)
    assert cell.arm.state().mode == DeviceMode.EMERGENCY_STOP
    with pytest.raises(EmergencyStopActive):
        cell.arm.servo(joints.UR5E_HOME_RAD)
    with pytest.raises(EmergencyStopActive):
        cell.arm.move_to(joints.UR5E_HOME_RAD)
    cell.arm.release_emergency_stop()
    cell.arm.servo(joints.UR5E_HOME_RAD)


def test_tactile_pressure_follows_flexion_and_thresholds_noise() -> None:
    cell = KinematicCell(seed=1)
    open_frame = cell.tactile.frame().force_n
    assert open_frame.shape == joints.TACTILE_SHAPE and open_frame.dtype == np.float32
    assert np.count_nonzero(open_frame) == 0  # noise below the 0.05 N threshold is zeroed
    curl = np.clip(np.full(12, 1.5), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad)
    cell.hand.command(curl)
    cell.advance(2.0)
    force = cell.tactile.frame().force_n
    assert (force[:, :, 2].sum(axis=1) > 0.5).all()
