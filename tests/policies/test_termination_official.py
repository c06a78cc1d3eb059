"""The task layer's termination rules (method.md) against the authors' released nut checkpoint in the simplified
world's nominal scene: a policy that turns the nut is never cut short, one that does nothing is ended by the
stagnation rule. Skipped without the release folder (../shared/external/dexscrew_official)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexscrew_sdk import resources
from dexscrew_sdk.skills import layout

pytestmark = pytest.mark.skipif(
    not (resources.official_dir() / layout.OFFICIAL_FILES["nut"]).is_file(), reason="released checkpoints absent"
)

EPISODE_STEPS = 300  # 15 s: the checkpoint's gait is ~1.2 s a cycle, so a dozen cycles


def _nut_task(num_envs: int, episode_steps: int):  # type: ignore[no-untyped-def]
    from policies.rl.backends.pybullet import PyBulletBackend
    from policies.rl.config import TaskConfig
    from policies.rl.task import RevoluteTask

    cfg = TaskConfig.for_task("nut")
    cfg.termination.episode_steps = episode_steps
    backend = PyBulletBackend("nut", num_envs, seed=0, workers=1, randomise=False, clamp_torques=False)
    return RevoluteTask(backend, cfg, seed=0)


def _run(task, act, steps: int) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    """Episodes that ended within `steps`, each with its length, rate and the rule that ended it."""
    ended: list[dict[str, float]] = []
    task.reset()
    for _ in range(steps):
        _, _, _, info = task.step(act(task))
        ep = info.get("episode")
        if ep:
            for i in range(len(ep["length_s"])):
                ended.append({k: float(v[i]) for k, v in ep.items()})
    return ended


def test_the_released_nut_checkpoint_runs_whole_episodes_with_the_termination_rules_on() -> None:
    from dexscrew_sdk.skills.policy import load_policy

    policy, meta = load_policy(resources.official_dir() / layout.OFFICIAL_FILES["nut"])
    mask = torch.as_tensor(meta.mask)

    def act(task):  # type: ignore[no-untyped-def]
        """Its training observation: frames t-3..t-1 of the task's own (noisy) history."""
        hist = task.hist.double().numpy()
        a = [policy(h[-layout.OBS_FRAMES - 1 : -1], h) for h in hist]
        return torch.as_tensor(np.array(a), dtype=torch.float32).masked_fill(mask, 0.0)

    task = _nut_task(num_envs=3, episode_steps=EPISODE_STEPS)
    try:
        ended = _run(task, act, EPISODE_STEPS)
    finally:
        task.close()
    assert len(ended) == 3, ended  # every episode ended exactly once: at the time limit
    full = [e for e in ended if e["terminated"] == 0.0 and e["length_s"] == pytest.approx(EPISODE_STEPS / 20.0)]
    assert len(full) >= 2, ended  # most reach the full length (measured: all three)
    assert np.mean([e["rad_per_s"] for e in ended]) >= 1.0, ended  # measured ~1.4 rad/s


def test_a_policy_that_does_nothing_is_ended_by_the_stagnation_rule() -> None:
    task = _nut_task(num_envs=2, episode_steps=800)
    window = task.watch.window_steps  # 3.5 s for the nut
    try:
        ended = _run(task, lambda t: torch.zeros(t.n, 12), window + 5)
    finally:
        task.close()
    assert len(ended) == 2, ended
    for e in ended:
        assert e["terminated"] == 1.0 and e["end_no_progress"] == 1.0, e
        assert e["end_tip_far"] == 0.0 and e["end_no_contact"] == 0.0, e  # the hand still holds the nut
        assert window / 20.0 < e["length_s"] <= (window + 5) / 20.0, e  # one window after the last 0.1 rad
