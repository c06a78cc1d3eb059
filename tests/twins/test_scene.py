"""In-process checks of the thread and the fault handling of the full twin."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from twins.bullet import official_init_canonical
from twins.cell import TwinCell


@pytest.fixture(scope="module")
def cell():
    c = TwinCell()
    yield c
    c.close()


def test_nut_travel_is_pitch_times_turns_both_ways(cell: TwinCell) -> None:
    cell.world.reset("nut", "hexagonal", seed=0)
    q = official_init_canonical("nut")
    q[1:3] -= 0.3  # thumb, index and middle backed off: the assist torque alone turns the nut
    q[4:8] -= 0.1
    cell.hand.command(q)
    pitch = cell.params.pitch_m
    for _ in range(3):
        cell.world.perturb("assist_turn")
        cell.advance(1.0)
    turns = cell.world.progress().turns_done
    assert turns > 0.1
    assert cell.scene.object_travel() == pytest.approx(-pitch * turns, abs=2e-4)
    cell.world.perturb("counter_rotate")
    cell.advance(0.05)
    assert cell.world.progress().turns_done == pytest.approx(turns - 0.25, abs=0.05)
    assert cell.scene.object_travel() == pytest.approx(-pitch * cell.world.progress().turns_done, abs=2e-4)


def test_exploding_state_is_reported_and_reset(cell: TwinCell) -> None:
    cell.world.reset("screwdriver", "octagon", seed=0)
    s = cell.scene
    pb.resetJointState(s.obj, 1, float("nan"), physicsClientId=s.client)
    faults = cell.faults
    cell.advance(0.05)
    assert cell.faults == faults + 1
    assert np.isfinite(cell.hand.q).all() and abs(cell.scene.object_angle()) < 1.0


def _pull_handle_up(cell: TwinCell, newtons: float, seconds: float) -> float:
    """Upward force on the handle every physics step; returns the highest lift above the screw seen."""
    s, highest = cell.scene, 0.0
    for _ in range(round(seconds / s.dt)):
        pos = pb.getLinkState(s.obj, 1, physicsClientId=s.client)[0]
        pb.applyExternalForce(s.obj, 1, [0.0, 0.0, newtons], pos, pb.WORLD_FRAME, physicsClientId=s.client)
        cell.advance(s.dt)
        highest = max(highest, s.object_travel() + s.screw_depth_m)
    return highest


def test_seated_blade_resists_finger_forces_but_a_pull_unseats_it(cell: TwinCell) -> None:
    cell.world.reset("screwdriver", "octagon", seed=0)
    s = cell.scene
    q = official_init_canonical("screwdriver")
    q[1] -= 0.3  # thumb, index and middle opened: the assist torque alone turns the handle
    q[4:8] -= 0.3
    cell.hand.command(q)
    cell.world.perturb("assist_turn")
    cell.advance(1.0)
    depth = s.screw_depth_m
    assert depth > 0.0  # seated: turning drives the screw ...
    assert s.object_travel() == pytest.approx(-depth, abs=5e-4)  # ... and the blade goes down with it
    assert _pull_handle_up(cell, 5.0, 0.5) < 2e-3  # a few newtons, as fingers brush it: still seated
    assert _pull_handle_up(cell, 60.0, 0.5) > 2e-3  # the arm pulling: the blade leaves the slot
    depth = s.screw_depth_m
    angle = s.object_angle()
    cell.world.perturb("assist_turn")
    _pull_handle_up(cell, 60.0, 1.0)
    assert s.object_angle() > angle + 0.5  # the handle turns ...
    assert s.screw_depth_m == pytest.approx(depth)  # ... but slips: the screw stays where it was
