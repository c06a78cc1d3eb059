"""The simplified RL world: API shapes, contact at the official initial pose, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.joints import FINGERTIP_NAMES
from twins.bullet import official_init_canonical
from twins.rl_world import RevoluteWorld, RLWorldConfig


@pytest.fixture(scope="module")
def nut_world():
    w = RevoluteWorld(RLWorldConfig(task="nut", num_envs=4, randomise=False))
    yield w
    w.close()


def test_shapes(nut_world: RevoluteWorld) -> None:
    w = nut_world
    w.reset()
    w.step(np.tile(official_init_canonical("nut"), (4, 1)))
    assert w.hand_q().shape == w.hand_qd().shape == w.hand_torque().shape == (4, 12)
    assert w.object_angle().shape == w.object_angvel().shape == (4,)
    assert w.object_pos().shape == (4, 3)
    assert w.fingertip_pos().shape == (4, 5, 3)
    assert w.fingertip_contact().dtype == bool
    assert w.privileged().shape == (4, len(RevoluteWorld.PRIVILEGED_NAMES))
    assert np.isfinite(w.privileged()).all()
    # every environment reports in its own frame: the same scene in each
    assert np.allclose(w.object_pos(), w.object_pos()[0], atol=1e-3)


@pytest.mark.parametrize("task", ["nut", "screwdriver"])
def test_official_initial_pose_touches(task: str) -> None:
    with RevoluteWorld(RLWorldConfig(task=task, num_envs=2, randomise=False)) as w:
        q0 = official_init_canonical(task)
        for _ in range(3):
            w.step(np.tile(q0, (2, 1)))
        contact = w.fingertip_contact()
        assert contact[:, 0].all() and contact[:, 1].all(), contact  # thumb and index


def test_targets_clipped_and_nan_ignored(nut_world: RevoluteWorld) -> None:
    w = nut_world
    w.reset()
    t = np.full((4, 12), 10.0)
    t[1] = np.nan
    w.step(t)
    assert (w.targets()[0] <= w.joint_upper).all()
    assert np.isfinite(w.targets()).all()
    assert np.isfinite(w.hand_q()).all()


def test_same_seed_same_rollout() -> None:
    def run() -> np.ndarray:
        with RevoluteWorld(RLWorldConfig(task="screwdriver", num_envs=2, seed=3)) as w:
            rng = np.random.default_rng(0)
            for _ in range(10):
                w.step(w.targets() + rng.normal(0, 0.05, (2, 12)))
            return np.concatenate([w.hand_q().ravel(), w.object_angle()])

    assert np.array_equal(run(), run())


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="nut"):
        RevoluteWorld(RLWorldConfig(task="bolt"))
    with pytest.raises(ConfigError, match="whole multiple"):
        RevoluteWorld(RLWorldConfig(physics_hz=200, control_hz=30))


def test_link_states_follow_every_step(nut_world: RevoluteWorld) -> None:
    """Accessors share one read per step: they agree with each other and never go stale."""
    w = nut_world
    w.reset()
    names = RevoluteWorld.PRIVILEGED_NAMES
    tip_cols = [names.index(f"tip_pos_{t}_{a}") for t in FINGERTIP_NAMES for a in "xyz"]
    before = w.fingertip_pos()
    w.step(np.tile(w.joint_upper, (4, 1)))  # close every finger
    after = w.fingertip_pos()
    assert np.abs(after - before).max() > 1e-3
    priv = w.privileged()
    assert np.allclose(priv[:, tip_cols], after.reshape(4, 15))
    assert np.allclose(priv[:, [names.index(f"object_pos_{a}") for a in "xyz"]], w.object_pos())
    w.reset()
    assert np.allclose(w.fingertip_pos(), before, atol=1e-6)


@pytest.mark.parametrize("task", ["nut", "screwdriver"])
def test_resets_reuse_collision_shapes(task: str) -> None:
    """PyBullet keeps every collision shape ever created; resets must not make new ones forever."""
    import pybullet as pb

    def next_shape_id(w: RevoluteWorld) -> int:  # ids count up: the gap is how many shapes were made
        return pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.01, physicsClientId=w.client)

    with RevoluteWorld(RLWorldConfig(task=task, num_envs=2, seed=3)) as w:
        known = set(w._collision_shapes)
        before = next_shape_id(w)
        for _ in range(40):
            w.reset()
        made = next_shape_id(w) - before - 1
        assert made == len(set(w._collision_shapes) - known), "a reset made a shape the world does not reuse"
        if task == "nut":  # one shape, three scales: 80 environment resets, at most three shapes ever
            assert len(w._collision_shapes) <= 3
        assert all(round(p.scale, 3) == p.scale for p in w.params)
