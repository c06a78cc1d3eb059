"""The methods on a real twin node: the skill alone holds the arm, the follower lowers it, replay is open loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import kinematics
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.evaluation import seeds
from dexscrew_sdk.evaluation.bench import synthetic_dataset
from dexscrew_sdk.evaluation.methods import ExpertReplay, MethodConfig, SkillMethod, StageUnavailable, build_methods
from dexscrew_sdk.evaluation.results import TrialSpec
from dexscrew_sdk.evaluation.trial import run_trial
from tests.conftest import connected_twin_cell

SEED = seeds.trial_seed(0)
PITCH_M = 0.00175


@pytest.fixture(scope="module")
def cell() -> Iterator[Cell]:
    yield from connected_twin_cell()


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic episodes, square and triangular by turns, episodes 1 and 3 failed."""
    return synthetic_dataset(tmp_path_factory.mktemp("demos"), episodes=4, steps=60, failed=(1, 3))


class RelaxedHand:
    """Stands in for the skill on the hand: thumb, index and middle backed off so the world's assist alone
    turns the nut (the arm's part of the method is what these tests are about)."""

    running = False

    def start(self, hand: object) -> None:
        from twins.bullet import official_init_canonical

        self.q = official_init_canonical("nut")
        self.q[1:3] -= 0.3
        self.q[4:8] -= 0.1
        self.hand, self.running = hand, True
        self.step()

    def step(self) -> None:
        self.hand.command(self.q)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.running = False


def drive(cell: Cell, follow: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """Run the method for 3 s while the world's assist turns the nut; turns, arm q before and after."""
    method = SkillMethod("skill_follower" if follow else "direct_sim2real", {}, follow=follow, pitch_m=PITCH_M)
    method._skills["nut"] = RelaxedHand()
    cell.world.reset("nut", "hexagonal", seed=SEED, randomisation={"enabled": True})
    q0 = np.array(cell.arm.state().q_rad)
    turns0 = cell.world.progress().turns_done
    method.start(cell, TrialSpec(method.name, "nut", "hexagonal", SEED, 10.0))
    for k in range(70):  # 3 s of assisted turning, then 0.5 s for the arm to settle
        if k % 20 == 0 and k < 60:
            cell.world.perturb("assist_turn")
        method.step(cell)
        cell.clock.wait()
    method.stop(cell)
    return cell.world.progress().turns_done - turns0, q0, np.array(cell.arm.state().q_rad)


@pytest.mark.integration
def test_the_skill_alone_keeps_the_arm_still_and_the_follower_lowers_the_wrist_as_the_nut_turns(cell: Cell) -> None:
    turns, q0, q1 = drive(cell, follow=False)
    assert turns > 0.5 and np.abs(q1 - q0).max() < 0.01
    turns, q0, q1 = drive(cell, follow=True)
    lowered_m = kinematics.forward(q0)[2] - kinematics.forward(q1)[2]
    assert turns > 0.5 and lowered_m == pytest.approx(PITCH_M * turns, abs=3e-4)


def test_replay_takes_a_successful_demo_of_another_seed_and_a_seen_shape_for_unseen_objects(demos: Path) -> None:
    replay = ExpertReplay([str(demos)])
    assert {d["seed"] for d in replay._demos} == {seeds.RECORDING.start, seeds.RECORDING.start + 2}  # successes
    assert replay.pick("nut", "square", SEED)["shape"] == "square"
    assert replay.pick("nut", "hexagonal", SEED)["shape"] in ("square", "triangular")
    with pytest.raises(StageUnavailable, match="no successful screwdriver demonstration"):
        replay.pick("screwdriver", "octagon", SEED)


@pytest.mark.integration
def test_expert_replay_sends_the_recorded_targets_open_loop(cell: Cell, demos: Path) -> None:
    replay = ExpertReplay([str(demos)])
    res = run_trial(cell, replay, TrialSpec("expert_replay", "nut", "square", SEED, 3.5))
    from dexscrew_sdk.recording import load_episode

    last = np.asarray(load_episode(replay.chosen["path"])["action_rad"][-1], dtype=float)
    assert res.sim_time_s == pytest.approx(3.5, abs=0.06)
    assert np.abs(np.array(cell.arm.state().q_rad) - last[12:]).max() < 0.02  # the arm went where the demo did


def test_missing_pieces_are_named() -> None:
    with pytest.raises(StageUnavailable, match="expert replay needs demonstrations"):
        build_methods(MethodConfig(["expert_replay"]))
    with pytest.raises(StageUnavailable, match="bc_touch"):
        build_methods(MethodConfig(["bc_touch"]))
