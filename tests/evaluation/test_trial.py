"""A trial's rules: when it ends, when the perturbation comes, what counts as recovered, why it failed."""

from __future__ import annotations

import pytest

from dexscrew_sdk.evaluation import trial
from dexscrew_sdk.evaluation.results import TrialSpec
from tests.evaluation.fakes import CountingMethod, FakeCell, FakeWorld

SEED = 1_000_000


def run(world: FakeWorld, max_s: float = 60.0, perturbation: str | None = None) -> tuple:
    method = CountingMethod()
    spec = TrialSpec("bc", "nut", "square", SEED, max_s, perturbation)
    return trial.run_trial(FakeCell(world), method, spec), method


def test_a_trial_ends_when_fastened_and_times_it() -> None:
    res, method = run(FakeWorld(turns_per_s=0.2, turns_required=2.0))  # fastened at 10 s
    assert res.success and res.failure_reason is None and res.progress_ratio == 1.0
    assert res.time_to_fasten_s == pytest.approx(10.0, abs=trial.PROGRESS_EVERY_S + 1e-9)
    assert method.steps == pytest.approx(200, abs=5) and method.started == method.stopped == 1


def test_an_unfinished_trial_runs_to_its_limit_and_names_the_world_flag() -> None:
    res, _ = run(FakeWorld(turns_per_s=0.1, stall_after_s=5.0), max_s=20.0)
    assert not res.success and res.time_to_fasten_s is None and res.failure_reason == "stalled"
    assert res.sim_time_s == pytest.approx(20.0) and res.progress_ratio == pytest.approx(0.5 / 4, abs=0.01)
    slow, _ = run(FakeWorld(turns_per_s=0.01), max_s=10.0)
    assert slow.failure_reason == "timeout"


def test_the_perturbation_comes_at_half_progress_and_recovery_is_judged_on_turns_plus_half() -> None:
    world = FakeWorld(turns_per_s=0.2)  # half of 4 turns at 10 s
    res, _ = run(world, perturbation="counter_rotate")
    (at_s, kind), = world.perturbations  # fmt: skip
    assert kind == "counter_rotate" and at_s == pytest.approx(10.0, abs=0.3)
    assert res.turns_before_perturbation == pytest.approx(2.0, abs=0.06)
    # back from 1.75 to 2.0 + 0.5 turns at 0.2 turn/s: 3.75 s after the perturbation
    assert res.recovered is True and res.recovery_time_s == pytest.approx(3.75, abs=0.3)


def test_the_perturbation_comes_at_30_s_when_progress_is_slow_and_no_recovery_within_30_s_fails() -> None:
    world = FakeWorld(turns_per_s=0.02, rate_after_perturbation=0.01)  # 0.6 turns at 30 s, then 0.3 in 30 s
    res, _ = run(world, max_s=10.0, perturbation="drag_fingers")  # the window extends a short limit
    assert world.perturbations[0][0] == pytest.approx(trial.PERTURB_AT_S, abs=0.3)
    assert res.recovered is False and res.sim_time_s == pytest.approx(60.0, abs=0.3)


def test_every_trial_starts_from_a_fresh_seeded_scene() -> None:
    world = FakeWorld()
    run(world, max_s=1.0)
    run(world, max_s=1.0)
    assert world.resets == [("nut", "square", SEED)] * 2


def test_an_object_turned_backwards_has_made_no_progress_not_negative_progress() -> None:
    res, _ = run(FakeWorld(turns_per_s=-0.05), max_s=4.0)
    assert res.turns_done < 0 and res.progress_ratio == 0.0
    assert min(r for _, r in res.progress_trace) == 0.0
