"""The object's friction holds against the fingers, in the simplified RL world and in the full twin.

PyBullet enforces an object's friction motor against finger contact impulses only when its solver has
converged (twins.rl_recipe.BULLET_SOLVER_ITERATIONS, docs/twins.md "Friction against the fingers"): at 8 iterations a
turning skill turned the object as far against 20 times its friction as against its nominal friction.
Each test drives the shipped nut skill twice from the same start, once at the nominal friction and
once at 20 times it: the first shows the skill turns the nut, the second that the friction stops it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dexscrew_sdk.resources import shipped_skill
from dexscrew_sdk.skills.skill import Skill
from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld
from policies.rl.evaluate import EnvHand
from twins import rl_recipe
from twins.cell import TwinCell
from twins.rl_world import RevoluteWorld, RLWorldConfig

HEAVY = 20.0  # 1.96 N m on the nut: beyond any grip of joints that give at most 1.1 N m each


def _rl_world_turn_rad(friction_scale: float, seconds: float = 6.0) -> float:
    scene = rl_recipe.nominal_scene("nut")
    scene.friction_coeff *= friction_scale
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False)) as world:
        world.reset(scenes=[scene])
        targets = world.hand_q().copy()
        skill = Skill.load(shipped_skill("nut"))
        skill.start(EnvHand(world, 0, targets))
        world.step(targets)
        start = float(world.object_angle()[0])
        for _ in range(round(seconds * rl_recipe.CONTROL_HZ)):
            skill.step()
            world.step(targets)
        return float(world.object_angle()[0]) - start


def test_rl_world_nut_turns_at_its_friction_and_is_held_by_twenty_times_it() -> None:
    nominal = _rl_world_turn_rad(1.0)
    heavy = _rl_world_turn_rad(HEAVY)
    assert nominal > 1.0, f"the shipped skill should turn the nut at its nominal friction: {nominal:.3f} rad"
    assert abs(heavy) < 0.1 * nominal, f"20x friction let the nut turn {heavy:.3f} rad (nominal {nominal:.3f})"


@pytest.fixture(scope="module")
def cell():
    c = TwinCell()
    yield c
    c.close()


def _twin_turns(cell: TwinCell, friction_scale: float, seconds: float = 8.0) -> float:
    cell.world.reset("nut", "triangular", seed=0)
    thread = cell.scene.params.thread
    heavier = replace(thread, friction_coefficient=thread.friction_coefficient * friction_scale)
    cell.rebuild(replace(cell.scene.params, thread=heavier), 0)
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), cell.params.pitch_m)
    follower.start()
    skill = Skill.load(shipped_skill("nut"))
    skill.start(cell.hand)
    for _ in range(round(seconds / cell.control_period_s)):
        skill.step()
        follower.step()
        cell.advance(cell.control_period_s)
    skill.stop()
    return cell.world.progress().turns_done


def test_full_twin_nut_turns_at_its_friction_and_is_held_by_twenty_times_it(cell: TwinCell) -> None:
    nominal = _twin_turns(cell, 1.0)
    heavy = _twin_turns(cell, HEAVY)
    assert nominal > 0.5, f"the shipped skill should turn the nut at its nominal friction: {nominal:.3f} turns"
    assert abs(heavy) < 0.1 * nominal, f"20x friction let the nut turn {heavy:.3f} turns (nominal {nominal:.3f})"
