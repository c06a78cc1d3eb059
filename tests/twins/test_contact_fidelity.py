"""The full twin's contacts as the simplified RL world's nominal scene has them: friction on every hand
link, each object's nominal pair value, the handle's extent above the grasp, the screw's head as a hard
stop under the handle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pybullet as pb
import pytest

from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld
from twins import objects, rl_recipe
from twins.bullet import ObjectBody, official_init_canonical
from twins.cell import TwinCell
from twins.grasp import GRASP_BELOW_TOP_M


@pytest.fixture(scope="module")
def cell():
    c = TwinCell()
    yield c
    c.close()


def _hand_links(cell: TwinCell) -> dict[str, int]:
    s = cell.scene
    names = {
        pb.getJointInfo(s.robot, j, physicsClientId=s.client)[12].decode(): j
        for j in range(pb.getNumJoints(s.robot, physicsClientId=s.client))
    }
    return {
        n: j
        for n, j in names.items()
        if n.startswith("left_hand") and pb.getCollisionShapeData(s.robot, j, physicsClientId=s.client)
    }


def test_every_hand_link_that_can_touch_carries_the_rl_worlds_friction(cell: TwinCell) -> None:
    cell.world.reset("nut", "triangular", seed=0)
    links = _hand_links(cell)
    assert {"left_hand_link", "left_hand_index_rota_tip", "left_hand_mid_link1"} <= set(links)
    s = cell.scene
    mu = {n: pb.getDynamicsInfo(s.robot, j, physicsClientId=s.client)[1] for n, j in links.items()}
    assert all(v == pytest.approx(1.0) for v in mu.values()), mu  # the engine's default is 0.5


@pytest.mark.parametrize(("task", "shape"), [("nut", "square"), ("screwdriver", "dodecagon")])
def test_nominal_object_friction_is_the_rl_worlds_nominal_pair_value(cell: TwinCell, task: str, shape: str) -> None:
    cell.world.reset(task, shape, seed=0)
    s = cell.scene
    mu = pb.getDynamicsInfo(s.obj.body, ObjectBody.SPIN, physicsClientId=s.client)[1]
    assert mu == pytest.approx(rl_recipe.nominal_scene(task).contact_mu)  # nut 1, screwdriver 4


def test_randomised_handle_friction_scales_around_its_nominal(cell: TwinCell) -> None:
    seen = []
    for seed in range(4):
        cell.world.reset("screwdriver", "octagon", seed=seed, randomisation={"enabled": True})
        seen.append(cell.scene.params.lateral_friction)
    assert all(4.0 * 0.7 <= v <= 4.0 * 1.5 for v in seen), seen
    assert len(set(seen)) == 4


@pytest.mark.parametrize("shape", objects.HANDLE_SHAPES)
def test_handles_reach_as_far_above_the_grasp_as_the_training_handle(shape: str) -> None:
    g = objects.twin_object("screwdriver", shape)
    top = float(g.parts[0][:, 2].max())
    training = rl_recipe.shape("screwdriver", "octagon")
    assert top == pytest.approx(GRASP_BELOW_TOP_M["screwdriver"]) == pytest.approx(training.z1_m - 0.065)
    assert float(g.parts[0][:, 2].max() - g.parts[0][:, 2].min()) == pytest.approx(objects.HANDLE_LENGTH_M)


@pytest.mark.parametrize("push_n", [100.0, 300.0])
def test_a_handle_pushed_down_stays_on_the_screws_head(cell: TwinCell, push_n: float) -> None:
    """The screw's thread holds it axially; the engine's joint limit alone gave way between 80 and 100 N."""
    cell.world.reset("screwdriver", "octagon", seed=0)
    s = cell.scene
    lowest = 0.0
    for k in range(200):
        pos = s.obj.pose()[0].tolist()
        pb.applyExternalForce(
            s.obj.body, ObjectBody.SPIN, [0, 0, -push_n], pos, pb.WORLD_FRAME, physicsClientId=s.client
        )
        s.step()
        if k % 10 == 9:
            s.control_update()
        lowest = min(lowest, s.obj.travel_m() + s.fasten.screw_depth_m)
    assert lowest >= -1e-9, lowest  # never below the screw's head
    assert not s.fasten.unseated


def test_a_handle_lifted_off_the_screw_comes_back_to_rest_on_its_head(cell: TwinCell) -> None:
    cell.world.reset("screwdriver", "octagon", seed=0)
    cell.hand.command(np.zeros(12))  # let go
    s = cell.scene
    s.obj.set_joints(s.obj.spin()[0], 0.01)  # 10 mm up: unseated, free along the axis
    cell.advance(1.5)
    gap = s.obj.travel_m() + s.fasten.screw_depth_m
    assert 0.0 <= gap < 0.0005, gap  # fell under gravity and rests on the head, not below it


def test_the_follower_keeps_a_turning_handle_seated_on_the_screw(cell: TwinCell) -> None:
    """The wrist goes down with the screw's feed and the handle stays on the screw's head, never unseated."""
    cell.world.reset("screwdriver", "octagon", seed=0)
    cell.rebuild(replace(cell.scene.params, lateral_friction=1.0), 0)  # a grip the assist can turn
    q = official_init_canonical("screwdriver")
    q[1] -= 0.3
    q[4:8] -= 0.3
    cell.hand.command(np.clip(q, cell.hand.limits.lower_rad, cell.hand.limits.upper_rad))
    s = cell.scene
    palm0 = s._palm_height()
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), cell.params.pitch_m)
    follower.start()
    for k in range(round(3.0 / cell.control_period_s)):
        if k % round(1.0 / cell.control_period_s) == 0:
            cell.world.perturb("assist_turn")
        follower.step()
        cell.advance(cell.control_period_s)
        assert not cell.world.progress().unseated
    turns, depth = cell.world.progress().turns_done, s.fasten.screw_depth_m
    assert turns > 0.5, turns
    assert depth == pytest.approx(turns * cell.params.pitch_m, abs=0.1 * cell.params.pitch_m)  # read a period apart
    assert s.obj.travel_m() == pytest.approx(-depth, abs=3e-4)  # on the head
    assert palm0 - s._palm_height() == pytest.approx(depth, abs=3e-4)  # the wrist followed the feed
