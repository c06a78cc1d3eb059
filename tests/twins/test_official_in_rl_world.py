"""The authors' released checkpoints turn their objects in the simplified world's nominal scene, run with
their training settings (skipped without the release folder, ../shared/external/dexscrew_official)."""

from __future__ import annotations

import pytest

from dexscrew_sdk import resources
from dexscrew_sdk.skills import layout

pytestmark = pytest.mark.skipif(
    not (resources.official_dir() / layout.OFFICIAL_FILES["nut"]).is_file(), reason="released checkpoints absent"
)


@pytest.mark.parametrize(("task", "clamped"), [("nut", False), ("screwdriver", True)])
def test_released_checkpoint_turns_its_object_in_the_nominal_scene(task: str, clamped: bool) -> None:
    from policies.rl.official import run_official

    run = run_official(task, episodes=2, seconds=10.0, seed=0, clamp_torques=clamped)
    assert min(run.rad_per_s) > 0.8, run.rad_per_s  # measured ~1.4-1.6 rad/s over 20-40 s
    assert run.settings["obs_frames"] == "t-3..t-1"
    assert run.settings["action_scale"] == (0.05 if task == "screwdriver" else 0.04167)


def test_a_checkpoint_that_does_nothing_turns_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same runner with a zero policy: the figure above comes from the gait, not from the world."""
    import numpy as np

    import policies.rl.official as official

    real = official.load_policy

    def zero_policy(path):  # type: ignore[no-untyped-def]
        _, meta = real(path)
        return (lambda frames, hist: np.zeros(12)), meta

    monkeypatch.setattr(official, "load_policy", zero_policy)
    run = official.run_official("nut", episodes=2, seconds=5.0, seed=0, clamp_torques=False)
    assert max(abs(r) for r in run.rad_per_s) < 0.1, run.rad_per_s
