"""The arm follower through Cell in lockstep: it reads turns from the World and lowers the wrist by pitch x turns."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import kinematics
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld
from twins.bullet import official_init_canonical

PITCH_M = 0.00175


def _relaxed_nut(cell: Cell) -> None:
    """Nominal nut, thumb/index/middle backed off so the assist alone turns it."""
    cell.world.reset("nut", "hexagonal", seed=0)
    q = official_init_canonical("nut")
    q[1:3] -= 0.3
    q[4:8] -= 0.1
    cell.hand.command(q)
    cell.clock.wait()


def test_the_wrist_goes_down_by_pitch_times_turns(cell: Cell) -> None:
    _relaxed_nut(cell)
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), PITCH_M)
    follower.start()
    z0 = kinematics.forward(cell.arm.state().q_rad)[2]
    pose0 = kinematics.forward(cell.arm.state().q_rad)
    for k in range(100):  # 5 s
        if k % 20 == 0:
            cell.world.perturb("assist_turn")
        step = follower.step()
        cell.clock.wait()
    for _ in range(10):  # the arm settles on the last target (the nut has stopped: the assist is over)
        step = follower.step()
        cell.clock.wait()
    turns = step.turns
    assert turns > 1.0, turns
    pose = kinematics.forward(cell.arm.state().q_rad)
    assert z0 - pose[2] == pytest.approx(PITCH_M * turns, abs=3e-4)  # lowered by pitch x turns ...
    assert np.allclose(pose[:2], pose0[:2], atol=3e-4)  # ... straight down
    assert np.allclose(pose[3:], pose0[3:], atol=2e-3)  # ... without turning the wrist


def test_turned_back_the_wrist_rises_again(cell: Cell) -> None:
    _relaxed_nut(cell)
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), PITCH_M)
    follower.start()
    first = follower.step()
    cell.world.perturb("counter_rotate")
    cell.clock.wait()
    back = follower.step()
    assert back.turns == pytest.approx(first.turns - 0.25, abs=0.03)
    assert back.lowered_m == pytest.approx(first.lowered_m - PITCH_M / 4, abs=1e-4)


def test_the_follower_only_reads_the_world(cell: Cell) -> None:
    view = ReadOnlyWorld(cell.world)
    assert not hasattr(view, "reset") and not hasattr(view, "perturb")
    assert view.progress().turns_required == 4.0


@pytest.mark.parametrize("pitch_m", [0.0, -0.001, float("nan"), 0.5])
def test_a_bad_pitch_is_refused_by_name(cell: Cell, pitch_m: float) -> None:
    with pytest.raises(CommandRejected, match="pitch_m"):
        ArmFollower(cell.arm, ReadOnlyWorld(cell.world), pitch_m)


def test_the_progress_flags_cross_the_bus(cell: Cell) -> None:
    """What evaluation reads through a node: a nut left alone stalls; nothing is seated or unseated."""
    cell.world.reset("nut", "triangular", seed=0)
    p = cell.world.progress()
    assert not p.stalled and not p.unseated and p.seat_torque_nm == 0.0
    for _ in range(90):  # 4.5 s, past the nut's 3.5 s stagnation window
        cell.clock.wait()
    p = cell.world.progress()
    assert p.stalled and not p.fastened and not p.unseated and p.seat_torque_nm == 0.0
