"""The simplified RL world: fixed, tilted LEFT XHands turning objects on revolute joints.

Stage 1 of the method, as the authors built it (twins.rl_recipe holds every number):
no arm, no thread, no axial travel; hand gravity off; the object's joint friction
is PhysX's load-dependent articulation friction, 0.2 x m x g. Many environments
share one PyBullet DIRECT world, 1 m apart, stepped together.

Gravity. Nothing in this world feels gravity but the object's joint load: the hand
has gravity off, and the object can only turn about a vertical axis, where its
weight has no moment. So the world runs with zero gravity and the friction bound
is computed from m g (docs/twins.md).

Hand actuation (docs/twins.md): torque PD, tau = Kp (target - q) - Kd qdot, computed for every
environment and applied every physics step, on joints whose child links carry the 0.001 kg m^2 rotor
inertia (PyBullet has no armature; without it explicit PD on the light finger links is unstable at
200 Hz); clipped to the authors' effective effort array, or only to 300 N m (unclamped).
actuation="motor" is the older emulation by the engine's position motor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.skills import layout
from twins import rl_recipe as recipe
from twins import xhand_left
from twins.bullet import urdf_file
from twins.rl_hand import RLHand
from twins.rl_recipe import SceneParams

ENV_SPACING_M = 1.0
ACTUATIONS = ("torque", "motor")


@dataclass
class RLWorldConfig:
    task: str = "nut"  # "nut" | "screwdriver"; bad value -> ConfigError naming choices
    num_envs: int = 8
    seed: int = 0
    randomise: bool = True  # method.md's per-episode ranges; False = the nominal scene
    physics_hz: float = recipe.PHYSICS_HZ
    control_hz: float = recipe.CONTROL_HZ
    solver_iterations: int = recipe.BULLET_SOLVER_ITERATIONS
    clamp_torques: bool = True  # PD torques clamped to the effective effort array; False: 300 N m
    actuation: str = "torque"  # "torque": PD torques every physics step, rotor inertia in the links;
    # "motor": the engine's position motor emulating that PD (faster, no rotor momentum; docs/twins.md)


@dataclass
class _Links:
    """Object and fingertip link states of every environment, each in its environment's frame."""

    obj_pos: np.ndarray  # (N, 3)
    obj_quat: np.ndarray  # (N, 4)
    obj_linvel: np.ndarray  # (N, 3)
    obj_angvel: np.ndarray  # (N, 3)
    tip_pos: np.ndarray  # (N, 5, 3) the authors' fingertip links
    tip_quat: np.ndarray  # (N, 5, 4)
    tip_linvel: np.ndarray  # (N, 5, 3)


class RevoluteWorld:
    PRIVILEGED_NAMES: tuple[str, ...] = recipe.privileged_names()

    def __init__(self, cfg: RLWorldConfig) -> None:
        if cfg.task not in recipe.TASKS:
            raise ConfigError(f"RLWorldConfig.task = {cfg.task!r}; choose one of {list(recipe.TASKS)}")
        if cfg.actuation not in ACTUATIONS:
            raise ConfigError(f"RLWorldConfig.actuation = {cfg.actuation!r}; choose one of {list(ACTUATIONS)}")
        if cfg.num_envs < 1:
            raise ConfigError(f"RLWorldConfig.num_envs must be >= 1, got {cfg.num_envs}")
        ratio = cfg.physics_hz / cfg.control_hz if cfg.control_hz > 0 else 0.0
        if cfg.control_hz <= 0 or abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            raise ConfigError(
                f"physics_hz ({cfg.physics_hz}) must be a whole multiple of control_hz ({cfg.control_hz})"
            )
        self.cfg = cfg
        self.num_envs = cfg.num_envs
        self.substeps = round(ratio)
        self.dt = 1.0 / cfg.physics_hz
        self.rng = np.random.default_rng(cfg.seed)
        self.joint_lower = np.array(recipe.SIM_LOWER_RAD[cfg.task])
        self.joint_upper = np.array(recipe.SIM_UPPER_RAD[cfg.task])
        self.effort = np.array(recipe.EFFECTIVE_EFFORT_NM if cfg.clamp_torques else [recipe.UNCLAMPED_EFFORT_NM] * 12)
        self.q_nominal = layout.init_targets_sdk(cfg.task)
        self.faults = 0  # environments reset because their state exploded
        self.physics_s = 0.0  # wall time spent inside the engine's steps (benchmarks: engine vs Python share)
        self.client = pb.connect(pb.DIRECT)
        pb.setGravity(0, 0, 0, physicsClientId=self.client)  # see the module docstring
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt, numSolverIterations=cfg.solver_iterations, physicsClientId=self.client
        )
        cols = int(np.ceil(np.sqrt(self.num_envs)))
        self.origins = np.array(
            [[ENV_SPACING_M * (i % cols), ENV_SPACING_M * (i // cols), 0.0] for i in range(self.num_envs)]
        )
        armature = recipe.ARMATURE_KGM2 if cfg.actuation == "torque" else 0.0
        limits = (self.joint_lower, self.joint_upper)
        path = urdf_file(xhand_left.hand_urdf(visual=False, limits=limits, armature_kgm2=armature))
        self.hands = [RLHand(self.client, path, o + np.array(recipe.HAND_POS_M)) for o in self.origins]
        self._actuated = [(h.body, h.joint_ids) for h in self.hands]  # the per-physics-step calls' arguments
        self.objects: list[int] = [-1] * self.num_envs
        self._collision_shapes: dict[tuple[str, float], int] = {}  # one per (shape, scale), reused across resets
        self.params = [recipe.nominal_scene(cfg.task) for _ in range(self.num_envs)]
        self._targets = np.tile(self.q_nominal, (self.num_envs, 1))
        self._q = np.zeros((self.num_envs, 12))
        self._qd = np.zeros((self.num_envs, 12))
        self._tau = np.zeros((self.num_envs, 12))
        self._obj_angle = np.zeros(self.num_envs)
        self._obj_vel = np.zeros(self.num_envs)
        self._hand_pose = np.zeros((self.num_envs, 7))  # position (env frame) + quaternion, set at reset
        self._links: _Links | None = None  # read on first use after each step or reset
        self.reset()

    # ------------------------------------------------------------------ reset
    def reset(
        self,
        env_ids: np.ndarray | None = None,
        q_init: np.ndarray | None = None,
        scenes: list[SceneParams] | None = None,
    ) -> None:
        """Reset environments (all by default); `scenes` gives each its scene instead of drawing one."""
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=int).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_envs):
            raise ConfigError(f"env_ids must be in [0, {self.num_envs}), got {ids.tolist()}")
        if scenes is not None and len(scenes) != len(ids):
            raise ConfigError(f"scenes must give one SceneParams per environment reset ({len(ids)}), got {len(scenes)}")
        qs = self._initial_q(ids, q_init)
        for k, e in enumerate(ids):
            self._reset_env(int(e), qs[k], None if scenes is None else scenes[k])
        self._read_state(ids)
        self._links = None

    def _initial_q(self, ids: np.ndarray, q_init: np.ndarray | None) -> np.ndarray:
        if q_init is not None:
            q = np.asarray(q_init, dtype=float)
            q = np.broadcast_to(q, (len(ids), 12)) if q.shape == (12,) else q
            if q.shape != (len(ids), 12) or not np.isfinite(q).all():
                raise ConfigError(f"q_init must be (12,) or ({len(ids)}, 12) finite values, got shape {q.shape}")
            return np.clip(q, self.joint_lower, self.joint_upper)
        q = np.tile(self.q_nominal, (len(ids), 1))
        if self.cfg.randomise:
            half = 0.5 * (self.joint_upper - self.joint_lower)
            frac = recipe.RANDOMISATION.init_joint_frac
            q = q + self.rng.uniform(-frac, frac, q.shape) * half
        return np.clip(q, self.joint_lower, self.joint_upper)

    def _reset_env(self, e: int, q0: np.ndarray, scene: SceneParams | None) -> None:
        c, hand = self.client, self.hands[e]
        if scene is None:
            scene = recipe.sample_scene(self.cfg.task, self.rng) if self.cfg.randomise else None
        p = scene or recipe.nominal_scene(self.cfg.task)
        self.params[e] = p
        rot = recipe.hand_rotation(p.tilt_rad, p.tilt_y_rad)
        hand.place(self.origins[e] + np.array(recipe.HAND_POS_M), rot)
        self._hand_pose[e] = [*recipe.HAND_POS_M, *recipe.quat_xyzw(rot)]
        if self.objects[e] >= 0:
            pb.removeBody(self.objects[e], physicsClientId=c)
        base = self.origins[e] + np.array([*p.object_xy_m, 0.0])
        self.objects[e] = self._object_body(p, base)
        hand.reset_joints(q0)
        self._q[e], self._qd[e] = q0, 0.0
        self._targets[e] = q0
        if self.cfg.actuation == "motor":
            self._tau[e] = hand.drive(q0, q0, np.zeros(12), p, self.effort, self.dt)
        else:
            self._tau[e] = 0.0

    def _object_body(self, p: SceneParams, base: np.ndarray) -> int:
        """The object on a fixed invisible base: link 0 turns about -z (positive = clockwise from above,
        the fastening direction of a right-hand thread); its joint friction is PhysX's 0.2 x m x g."""
        c, geom = self.client, recipe.shape(self.cfg.task, p.shape)
        centre = np.array([0.0, 0.0, 0.5 * (geom.z0_m + geom.z1_m)])  # its state reads out here
        body = pb.createMultiBody(
            baseMass=0,
            basePosition=base.tolist(),
            linkMasses=[p.mass_kg],
            linkCollisionShapeIndices=[self._collision_shape(p.shape, p.scale)],
            linkVisualShapeIndices=[-1],
            linkPositions=[[0, 0, 0]],
            linkOrientations=[[0, 0, 0, 1]],
            linkInertialFramePositions=[list(p.com_m + centre)],
            linkInertialFrameOrientations=[[0, 0, 0, 1]],
            linkParentIndices=[0],
            linkJointTypes=[pb.JOINT_REVOLUTE],
            linkJointAxis=[[0, 0, -1]],
            physicsClientId=c,
        )
        pb.setJointMotorControl2(
            body, 0, pb.VELOCITY_CONTROL, targetVelocity=0, force=p.object_friction_nm, physicsClientId=c
        )
        pb.changeDynamics(body, 0, lateralFriction=p.contact_mu, restitution=p.restitution, physicsClientId=c)
        return body

    def _collision_shape(self, shape: str, scale: float) -> int:
        """PyBullet keeps every collision shape ever made; a reset reuses the one of its (shape, scale)."""
        key = (shape, scale)
        if key not in self._collision_shapes:
            verts = recipe.shape(self.cfg.task, shape).vertices(scale)
            self._collision_shapes[key] = pb.createCollisionShape(
                pb.GEOM_MESH, vertices=verts.tolist(), physicsClientId=self.client
            )
        return self._collision_shapes[key]

    # ------------------------------------------------------------------ stepping
    def step(self, targets: np.ndarray) -> None:
        t = np.asarray(targets, dtype=float)
        if t.shape != (self.num_envs, 12):
            raise ConfigError(f"targets must have shape ({self.num_envs}, 12), got {t.shape}")
        t = np.where(np.isfinite(t), t, self._targets)  # NaN never reaches physics: keep the last target
        t = np.clip(t, self.joint_lower, self.joint_upper)
        self._targets = t
        if self.cfg.actuation == "motor":
            for e in range(self.num_envs):
                self._tau[e] = self.hands[e].drive(t[e], self._q[e], self._qd[e], self.params[e], self.effort, self.dt)
            start = time.perf_counter()
            for _ in range(self.substeps):
                pb.stepSimulation(physicsClientId=self.client)
            self.physics_s += time.perf_counter() - start
        else:  # torque PD every physics step, all environments in one numpy expression
            kp = np.array([[p.kp] for p in self.params])
            kd = np.array([[p.kd] for p in self.params])
            tau = np.zeros_like(self._tau)
            c, torque, set_joints = self.client, pb.TORQUE_CONTROL, pb.setJointMotorControlArray
            q, qd = self._q, self._qd  # the engine's state now: read at the end of the last step or reset
            for k in range(self.substeps):
                if k:
                    q, qd = self._joint_states()
                tau_k = np.clip(kp * (t - q) - kd * qd, -self.effort, self.effort)
                for (body, ids), row in zip(self._actuated, tau_k.tolist(), strict=True):
                    set_joints(body, ids, torque, forces=row, physicsClientId=c)
                tau += tau_k
                start = time.perf_counter()
                pb.stepSimulation(physicsClientId=c)
                self.physics_s += time.perf_counter() - start
            self._tau = tau / self.substeps  # the period's mean torque
        self._read_state(np.arange(self.num_envs))
        self._links = None
        bad = ~(np.isfinite(self._q).all(1) & np.isfinite(self._obj_angle) & (np.abs(self._qd).max(1) < 1e3))
        if bad.any():
            self.faults += int(bad.sum())
            self.reset(np.flatnonzero(bad))

    def _joint_states(self, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(len(ids), 12) joint positions and velocities of the hands (all by default), read from the engine
        now: one engine call per hand, one array per quantity (the calls are the Python side's main cost)."""
        c, get = self.client, pb.getJointStates
        bodies = self._actuated if ids is None else [self._actuated[e] for e in ids]
        s = [x for body, joint_ids in bodies for x in get(body, joint_ids, physicsClientId=c)]
        n = len(bodies)
        return np.array([x[0] for x in s]).reshape(n, 12), np.array([x[1] for x in s]).reshape(n, 12)

    def _read_state(self, ids: np.ndarray) -> None:
        self._q[ids], self._qd[ids] = self._joint_states(ids)
        for e in ids:
            s = pb.getJointState(self.objects[e], 0, physicsClientId=self.client)
            self._obj_angle[e], self._obj_vel[e] = s[0], s[1]

    # ------------------------------------------------------------------ accessors
    def hand_q(self) -> np.ndarray:
        return self._q.copy()

    def hand_qd(self) -> np.ndarray:
        return self._qd.copy()

    def hand_torque(self) -> np.ndarray:
        """Torque PD: the last control period's mean torque; "motor": the PD torque at the period's start."""
        return self._tau.copy()

    def targets(self) -> np.ndarray:
        return self._targets.copy()

    def object_angle(self) -> np.ndarray:
        """Unwrapped joint angle; the joint axis points down, so positive = clockwise from above = fastening."""
        return self._obj_angle.copy()

    def object_angvel(self) -> np.ndarray:
        return self._obj_vel.copy()

    def object_friction_nm(self) -> np.ndarray:
        return np.array([p.object_friction_nm for p in self.params])

    def object_pos(self) -> np.ndarray:
        return self._link_states().obj_pos.copy()

    def fingertip_pos(self) -> np.ndarray:
        return self._link_states().tip_pos.copy()

    def fingertip_contact(self) -> np.ndarray:
        return np.stack([h.contacts(o) for h, o in zip(self.hands, self.objects, strict=True)])

    def privileged(self) -> np.ndarray:
        """(N, len(PRIVILEGED_NAMES)) in rl_recipe.PRIVILEGED_LAYOUT order."""
        n, ln, p = self.num_envs, self._link_states(), self.params
        names = [s.name for s in recipe.SHAPES[self.cfg.task]]
        return np.concatenate(
            [
                ln.obj_pos,
                ln.obj_quat,
                ln.obj_linvel,
                ln.obj_angvel,
                self._obj_angle[:, None],
                self._obj_vel[:, None],
                ln.tip_pos.reshape(n, -1),
                ln.tip_quat.reshape(n, -1),
                ln.tip_linvel.reshape(n, -1),
                np.array([[x.mass_kg] for x in p]),
                np.array([x.com_m for x in p]),
                np.array([[x.contact_mu, x.scale, x.restitution, x.kp, x.kd] for x in p]),
                self._hand_pose,
                np.array([[float(names.index(x.shape))] for x in p]),
            ],
            axis=1,
        )

    def _link_states(self) -> _Links:
        """One PyBullet query per body for the whole control step, however many accessors ask."""
        if self._links is None:
            c = self.client
            obj = [pb.getLinkState(o, 0, computeLinkVelocity=1, physicsClientId=c) for o in self.objects]
            tips = [h.tip_states() for h in self.hands]
            self._links = _Links(
                obj_pos=np.array([s[0] for s in obj]) - self.origins,
                obj_quat=np.array([s[1] for s in obj]),
                obj_linvel=np.array([s[6] for s in obj]),
                obj_angvel=np.array([s[7] for s in obj]),
                tip_pos=np.array([t[0] for t in tips]) - self.origins[:, None, :],
                tip_quat=np.array([t[1] for t in tips]),
                tip_linvel=np.array([t[2] for t in tips]),
            )
        return self._links

    def close(self) -> None:
        if self.client >= 0 and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = -1

    def __enter__(self) -> RevoluteWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
