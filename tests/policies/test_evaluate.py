"""Evaluation through the skill runtime (synthetic world) and the benchmark's shape."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.skills import Skill
from dexscrew_sdk.skills.policy import official_metadata


def test_evaluate_runs_skills_per_environment(fake_world) -> None:
    from policies.rl.evaluate import evaluate, random_skill

    def flexer() -> Skill:  # flexes index_j1: the synthetic object turns forward
        meta = official_metadata("nut", joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
        a = np.zeros(12)
        a[4] = 1.0
        return Skill(lambda frames, hist: a, meta)

    good = evaluate(flexer, "nut", episodes=3, seconds=2.0)
    assert len(good.rad_per_s) == 3 and not any(good.terminated)
    assert min(good.rad_per_s) > 0.5
    rnd = evaluate(random_skill("nut"), "nut", episodes=3, seconds=2.0).summary()
    assert rnd["episodes"] == 3 and rnd["rad_per_s"] < min(good.rad_per_s)
    assert good.summary(target_rad_s=0.5)["episodes_meeting_target"] == 3
    assert all(w.closed for w in fake_world)


def test_bench_quick_reports_every_key(fake_world, monkeypatch: pytest.MonkeyPatch) -> None:
    from argparse import Namespace

    from policies.rl import bench

    monkeypatch.setattr(bench, "throughput", lambda steps: 1234.5)
    out = bench.run(Namespace(quick=True))
    for key in ("skill_nut_rad_per_s", "skill_screwdriver_rad_per_s", "random_policy_rad_per_s"):
        assert np.isfinite(out[key])  # the shipped skills exist and ran (a missing one reports None)
    for key in ("full_twin_skill_nut_turns_nominal", "full_twin_skill_screwdriver_turns_randomised_mean"):
        assert np.isfinite(out[key])  # the shipped skills, run in the real full twin
    assert out["skill_nut_episodes_meeting_target"].endswith("/2") and out["quick"] is True
    for task in ("nut", "screwdriver"):  # each shipped skill in its training torque setting and in the other
        other = {"clamped": "unclamped", "unclamped": "clamped"}[out[f"skill_{task}_torques"]]
        assert np.isfinite(out[f"skill_{task}_{other}_rad_per_s"])
