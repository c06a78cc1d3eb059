"""The RL world's physics stays what it was recorded as: a fixed action sequence replays to the stored
states (tests/twins/rl_world_reference.py), so speed work cannot change the trajectories unnoticed."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from tests.twins import rl_world_reference as ref

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def stored() -> tuple[dict[str, object], dict[str, np.ndarray]]:
    meta, arrays = ref.load()
    if meta["pybullet_api_version"] != pb.getAPIVersion():
        pytest.skip(f"reference recorded with pybullet API {meta['pybullet_api_version']}, not this one")
    return meta, arrays


@pytest.mark.parametrize("case", list(ref.CASES))
def test_a_fixed_action_sequence_replays_the_recorded_trajectory(case: str, stored) -> None:
    _, arrays = stored
    now = ref.replay(case)
    for field in ref.FIELDS:
        want = arrays[f"{case}/{field}"]
        got = now[field]
        assert got.shape == want.shape, f"{case}/{field}: shape {got.shape}, recorded {want.shape}"
        err = np.abs(got - want)
        worst = np.unravel_index(int(np.argmax(err)), err.shape)
        assert err.max() <= TOLERANCE, f"{case}/{field}: differs by {err.max():.3g} at (step, env, ...) {worst}"


def test_the_recorded_trajectories_touch_and_turn_the_objects(stored) -> None:
    """The reference must exercise contact, or it could not tell a change in contact handling."""
    _, arrays = stored
    for case in ref.CASES:
        assert arrays[f"{case}/contact"].any(axis=(0, 2)).sum() >= 2, f"{case}: fingertips never touch"
        assert np.abs(arrays[f"{case}/angle"][-1]).max() > 1e-3, f"{case}: no object turned"


def test_the_replay_notices_a_changed_gain(monkeypatch: pytest.MonkeyPatch, stored) -> None:
    """A change of the physics at the 1e-6 level shows up well above the tolerance."""
    _, arrays = stored
    from twins import rl_recipe

    real = rl_recipe.nominal_scene

    def nudged(task: str):  # type: ignore[no-untyped-def]
        p = real(task)
        p.kp *= 1 + 1e-6
        return p

    monkeypatch.setattr(rl_recipe, "nominal_scene", nudged)
    now = ref.replay("nut_nominal_unclamped")
    assert np.abs(now["q"] - arrays["nut_nominal_unclamped/q"]).max() > 1e3 * TOLERANCE
