"""The simplified RL world: API shapes, the authors' nominal scene, contact at the initial poses, the
load-dependent object friction, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.joints import FINGERTIP_NAMES
from dexscrew_sdk.skills import layout
from twins import rl_recipe
from twins.rl_world import RevoluteWorld, RLWorldConfig

official_init_canonical = layout.init_targets_sdk


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
def test_training_initial_pose_grasps_the_object(task: str) -> None:
    with RevoluteWorld(RLWorldConfig(task=task, num_envs=2, randomise=False)) as w:
        q0 = np.array(rl_recipe.TRAIN_INIT_RAD[task])
        w.reset(q_init=q0)
        for _ in range(3):
            w.step(np.tile(q0, (2, 1)))
        contact = w.fingertip_contact()
        assert contact[:, 0].all() and contact[:, 1].all(), contact  # thumb and index


def test_nominal_scene_is_the_authors() -> None:
    """Hand R_x(65 deg) at (0, 0, 0.21) with fingers along +y and down, palm down; nut where the facts say."""
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False)) as w:
        p = w.params[0]
        assert (p.mass_kg, p.contact_mu, p.kp, p.kd) == (0.05, 1.0, 3.0, 0.01)
        assert np.allclose(w.object_pos()[0], (0.02125, 0.06375, 0.06875))
        rot = rl_recipe.hand_rotation(p.tilt_rad)
        assert np.allclose(
            rot,
            [
                [1, 0, 0],
                [0, np.cos(np.radians(65)), -np.sin(np.radians(65))],
                [0, np.sin(np.radians(65)), np.cos(np.radians(65))],
            ],
        )
        w.reset(q_init=np.zeros(12))
        tips = w.fingertip_pos()[0]
        finger = tips[1] - np.array(rl_recipe.HAND_POS_M)  # index tip of the open hand: along +y, 25 deg down
        assert np.allclose(finger, rot @ np.array((0.0265, -0.0065, -0.2057)), atol=1e-3)
        assert finger[1] > 0.15 and finger[2] < -0.05
        assert w.cfg.clamp_torques and np.allclose(w.effort, rl_recipe.EFFECTIVE_EFFORT_NM)
    with RevoluteWorld(RLWorldConfig(task="screwdriver", num_envs=1, randomise=False)) as w:
        assert np.allclose(w.object_pos()[0][:2], (0.01275, 0.06375))
        assert w.params[0].contact_mu == 4.0


def test_effective_effort_array_is_the_authors_in_policy_order() -> None:
    policy = (0.4, 1.1, 0.4, 1.1, 0.4, 1.1, 0.4, 1.1, 1.1, 0.4, 1.1, 1.1)
    assert np.allclose(rl_recipe.EFFECTIVE_EFFORT_NM, layout.to_sdk(policy))
    lower_nut = (-0.175, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, -1.05, -0.17)
    assert np.allclose(rl_recipe.SIM_LOWER_RAD["nut"], layout.to_sdk(lower_nut))


def test_object_friction_is_load_dependent_like_physx() -> None:
    """0.2 x m x g: 0.078 .. 0.118 N m over the mass range, not a constant 0.2 N m."""
    assert rl_recipe.NOMINAL["nut"].object_friction_nm == pytest.approx(0.2 * 0.05 * 9.81)
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=6, seed=2)) as w:
        masses = np.array([p.mass_kg for p in w.params])
        assert np.allclose(w.object_friction_nm(), 0.2 * masses * 9.81)
        assert (w.object_friction_nm() >= 0.078).all() and (w.object_friction_nm() <= 0.118).all()


def _spin_up(torque_nm: float, mass_kg: float) -> float:
    """Object angle after 0.5 s under a constant torque, hand open and away."""
    import pybullet as pb

    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False)) as w:
        scene = rl_recipe.nominal_scene("nut")
        scene.mass_kg = mass_kg
        w.reset(q_init=np.zeros(12), scenes=[scene])  # the open hand does not touch the nut
        obj = w.objects[0]
        for _ in range(100):
            pb.applyExternalTorque(obj, 0, [0, 0, -torque_nm], pb.WORLD_FRAME, physicsClientId=w.client)
            pb.stepSimulation(physicsClientId=w.client)
        return pb.getJointState(obj, 0, physicsClientId=w.client)[0]


def test_object_turns_only_when_torque_beats_its_friction() -> None:
    assert abs(_spin_up(0.09, 0.05)) < 1e-3  # below 0.2 x 0.05 x 9.81 = 0.098 N m: held
    assert _spin_up(0.11, 0.05) > 0.05  # above it: turns
    assert abs(_spin_up(0.11, 0.06)) < 1e-3  # heavier nut, 0.118 N m: held again


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


def test_bad_actuation_is_refused() -> None:
    with pytest.raises(ConfigError, match="torque"):
        RevoluteWorld(RLWorldConfig(actuation="position"))


def test_unclamped_switch_lifts_the_effort_clip_only() -> None:
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False, clamp_torques=False)) as w:
        assert np.allclose(w.effort, rl_recipe.UNCLAMPED_EFFORT_NM)
        w.step(np.tile(w.joint_upper, (1, 1)))  # a large error: PD torque 3 x ~1 rad > 0.4 N m
        assert np.abs(w.hand_torque()).max() > 1.2
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False)) as w:
        w.step(np.tile(w.joint_upper, (1, 1)))
        assert (np.abs(w.hand_torque()) <= np.array(rl_recipe.EFFECTIVE_EFFORT_NM) + 1e-9).all()


def test_rotor_inertia_sits_in_the_links_about_their_joint_axes() -> None:
    import pybullet as pb

    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, randomise=False)) as w:
        h = w.hands[0]
        j1 = h.joint_ids[4]  # index_j1 (canonical order), axis -x of its link
        inertia = pb.getDynamicsInfo(h.body, j1, physicsClientId=w.client)[2]
        assert inertia[0] == pytest.approx(1.74e-5 + rl_recipe.ARMATURE_KGM2)
        assert inertia[1] == pytest.approx(1.69e-5 + rl_recipe.ARMATURE_KGM2 / 2)


def test_merged_hand_reports_the_authors_tip_frames_and_masses() -> None:
    """The world's hand has its fixed links merged (speed); its `_tip` states, contact links and link masses
    are those of the generated model loaded as it is, with the same joint state."""
    import pybullet as pb

    from dexscrew_sdk import joints
    from twins import xhand_left
    from twins.bullet import link_indices, urdf_file

    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=1, seed=3, randomise=True)) as w:
        rng = np.random.default_rng(0)
        for _ in range(5):
            w.step(w.targets() + rng.normal(0, 0.05, (1, 12)))
        h = w.hands[0]
        assert pb.getNumJoints(h.body, physicsClientId=w.client) == 12  # no fixed links left
        pos, quat, vel = h.tip_states()
        q, qd = h.joint_states()
        frame_pos, frame_quat = pb.getBasePositionAndOrientation(h.body, physicsClientId=w.client)
        limits = (w.joint_lower, w.joint_upper)
        path = urdf_file(xhand_left.hand_urdf(visual=False, limits=limits, armature_kgm2=rl_recipe.ARMATURE_KGM2))
        c = pb.connect(pb.DIRECT)
        try:
            ref = pb.loadURDF(path, useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
            rot = np.array(pb.getMatrixFromQuaternion(frame_quat)).reshape(3, 3)
            com = np.array(frame_pos) + rot @ np.array(pb.getDynamicsInfo(ref, -1, physicsClientId=c)[3])
            pb.resetBasePositionAndOrientation(ref, com.tolist(), frame_quat, physicsClientId=c)
            jn, ln = link_indices(c, ref)
            for name, a, b in zip(joints.HAND_JOINT_NAMES, q, qd, strict=True):
                pb.resetJointState(ref, jn[name], a, b, physicsClientId=c)
            tips = [ln[t] for t in rl_recipe.TIP_LINKS]
            s = pb.getLinkStates(ref, tips, computeLinkVelocity=1, computeForwardKinematics=1, physicsClientId=c)
            assert np.abs(pos - np.array([x[4] for x in s])).max() < 1e-6
            assert np.abs(quat - np.array([x[5] for x in s])).max() < 1e-6
            assert np.abs(vel - np.array([x[6] for x in s])).max() < 1e-6
            for d, link in zip(rl_recipe.DISTAL_LINKS, h.distal_ids, strict=True):  # + the massless frames' 1e-5 kg
                merged = pb.getDynamicsInfo(h.body, link, physicsClientId=w.client)[0]
                assert merged == pytest.approx(pb.getDynamicsInfo(ref, ln[d], physicsClientId=c)[0], rel=2e-3)
        finally:
            pb.disconnect(c)
