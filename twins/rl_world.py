"""The simplified RL world: fixed, tilted XHands turning objects on revolute joints.

Stage 1 of the method: no arm, no thread, no axial travel. Many environments
share one PyBullet DIRECT world, 1 m apart, stepped together (one
`stepSimulation` per substep for all of them), which is what makes it fast.

Hand actuation. The authors' law is torque PD, tau = Kp (target - q) - Kd qdot
with Kp = 3, Kd = 0.01, armature 0.001 kg m^2. Torque PD from Python needs a
call per environment per substep and, without armature (PyBullet has none), is
unstable at 200 Hz on the light finger links. Instead each joint uses the
engine's position motor, whose velocity correction per substep is
kp' (target - q) / dt - kd' qdot: with kp' = Kp dt^2 / I and kd' = Kd dt / I,
I = 0.001 (the armature), free motion follows the same PD on an
armature-dominated joint. The motor's force limit is set each control period to
the PD torque |Kp e| + |Kd qdot| (capped by the effort limits 1.1 / 0.4 N m), so
a finger pressed on the object pushes with the PD's force, not with its maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints
from dexscrew_sdk.errors import ConfigError
from twins import objects
from twins.bullet import (
    HandModel,
    load_hand,
    object_body,
    object_shapes,
    official_init_canonical,
    tilted_hand_orientation,
)

OBJECT_JOINT_FRICTION_NM = 0.2
HAND_HEIGHT_M = 0.21
ENV_SPACING_M = 1.0


@dataclass
class RLWorldConfig:
    task: str = "nut"  # "nut" | "screwdriver"; bad value -> ConfigError naming choices
    num_envs: int = 8
    seed: int = 0
    randomise: bool = True  # domain randomisation per the method (mass, COM, friction, scale, gains, tilt...)
    physics_hz: float = 200.0
    control_hz: float = 20.0
    solver_iterations: int = 8


@dataclass
class _EnvParams:
    shape: str = "triangular"
    mass_kg: float = 0.05
    com_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    friction: float = 1.0
    restitution: float = 0.0
    scale: float = 1.0
    kp: float = 3.0
    kd: float = 0.01
    tilt_x_rad: float = np.deg2rad(25.0)
    tilt_y_rad: float = 0.0


@dataclass
class _Links:
    """Object and fingertip link states of every environment, each in its environment's frame."""

    obj_pos: np.ndarray  # (N, 3)
    obj_quat: np.ndarray  # (N, 4)
    obj_linvel: np.ndarray  # (N, 3)
    obj_angvel: np.ndarray  # (N, 3)
    tip_pos: np.ndarray  # (N, 5, 3) pad frames
    tip_quat: np.ndarray  # (N, 5, 4)
    tip_linvel: np.ndarray  # (N, 5, 3)


def _names(prefix: str, parts: str | int) -> list[str]:
    if isinstance(parts, int):
        return [f"{prefix}_{i}" for i in range(parts)]
    return [f"{prefix}_{c}" for c in parts]


_TIPS = joints.FINGERTIP_NAMES
PRIVILEGED_LAYOUT: tuple[tuple[str, int], ...] = (
    ("object_pos", 3),
    ("object_quat", 4),
    ("object_linvel", 3),
    ("object_angvel", 3),
    ("object_joint_angle", 1),
    ("object_joint_vel", 1),
    ("tip_pos", 15),
    ("tip_quat", 20),
    ("tip_linvel", 15),
    ("object_mass", 1),
    ("object_com", 3),
    ("friction", 1),
    ("object_scale", 1),
    ("restitution", 1),
    ("kp", 1),
    ("kd", 1),
    ("hand_pos", 3),
    ("hand_quat", 4),
    ("shape_id", 1),
)


def _privileged_names() -> tuple[str, ...]:
    out: list[str] = []
    for name, n in PRIVILEGED_LAYOUT:
        if n == 1:
            out.append(name)
        elif name in ("tip_pos", "tip_linvel"):
            out += [f"{name}_{t}_{a}" for t in _TIPS for a in "xyz"]
        elif name == "tip_quat":
            out += [f"{name}_{t}_{a}" for t in _TIPS for a in "xyzw"]
        else:
            out += _names(name, "xyzw" if n == 4 else "xyz")
    return tuple(out)


class RevoluteWorld:
    PRIVILEGED_NAMES: tuple[str, ...] = _privileged_names()

    def __init__(self, cfg: RLWorldConfig) -> None:
        if cfg.task not in objects.TASKS:
            raise ConfigError(f"RLWorldConfig.task = {cfg.task!r}; choose one of {list(objects.TASKS)}")
        if cfg.num_envs < 1:
            raise ConfigError(f"RLWorldConfig.num_envs must be >= 1, got {cfg.num_envs}")
        ratio = cfg.physics_hz / cfg.control_hz
        if cfg.control_hz <= 0 or abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            raise ConfigError(
                f"physics_hz ({cfg.physics_hz}) must be a whole multiple of control_hz ({cfg.control_hz})"
            )
        self.cfg = cfg
        self.num_envs = cfg.num_envs
        self.substeps = round(ratio)
        self.dt = 1.0 / cfg.physics_hz
        self.rng = np.random.default_rng(cfg.seed)
        self.joint_lower = joints.XHAND_LOWER_RAD.copy()
        self.joint_upper = joints.XHAND_UPPER_RAD.copy()
        self.q_nominal = official_init_canonical(cfg.task)
        self.faults = 0  # environments reset because their state exploded
        self.client = pb.connect(pb.DIRECT)
        pb.setGravity(0, 0, -9.81, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt, numSolverIterations=cfg.solver_iterations, physicsClientId=self.client
        )
        cols = int(np.ceil(np.sqrt(self.num_envs)))
        self.origins = np.array(
            [[ENV_SPACING_M * (i % cols), ENV_SPACING_M * (i // cols), 0.0] for i in range(self.num_envs)]
        )
        self.hands: list[HandModel] = [load_hand(self.client, base_pos=o) for o in self.origins]
        self.objects: list[int] = [-1] * self.num_envs
        self._collision_shapes: dict[tuple[str, float], int] = {}  # one per (shape, scale), reused across resets
        self.params = [_EnvParams() for _ in range(self.num_envs)]
        self._targets = np.tile(self.q_nominal, (self.num_envs, 1))
        self._q = np.zeros((self.num_envs, 12))
        self._qd = np.zeros((self.num_envs, 12))
        self._tau = np.zeros((self.num_envs, 12))
        self._obj_angle = np.zeros(self.num_envs)
        self._obj_vel = np.zeros(self.num_envs)
        self._hand_pose = np.zeros((self.num_envs, 7))  # base position (env frame) + quaternion, set at reset
        self._links = None  # type: _Links | None  # read on first use after each step or reset
        self.reset()

    # ------------------------------------------------------------------ reset
    def reset(self, env_ids: np.ndarray | None = None, q_init: np.ndarray | None = None) -> None:
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=int).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_envs):
            raise ConfigError(f"env_ids must be in [0, {self.num_envs}), got {ids.tolist()}")
        qs = self._initial_q(ids, q_init)
        for k, e in enumerate(ids):
            self._reset_env(int(e), qs[k])
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
        if self.cfg.randomise:  # +-10 % of the half range
            half = 0.5 * (self.joint_upper - self.joint_lower)
            q = q + self.rng.uniform(-0.1, 0.1, q.shape) * half
        return np.clip(q, self.joint_lower, self.joint_upper)

    def _sample_params(self) -> _EnvParams:
        r, shapes = self.rng, ("triangular",) if self.cfg.task == "nut" else ("octagon", "dodecagon")
        if not self.cfg.randomise:
            return _EnvParams(shape=shapes[0], mass_kg=objects.object_geometry(self.cfg.task, shapes[0]).mass_kg)
        # the screwdriver's scale to 1e-3, so the world needs at most a few hundred collision shapes
        scale = float(r.choice([0.95, 1.0, 1.05])) if self.cfg.task == "nut" else round(float(r.uniform(0.85, 1.25)), 3)
        return _EnvParams(
            shape=str(r.choice(shapes)),
            mass_kg=float(r.uniform(0.04, 0.06)),
            com_m=r.uniform(-0.001, 0.001, 3),
            friction=float(r.uniform(0.5, 8.0)),
            restitution=float(r.uniform(0.0, 1.0)),
            scale=scale,
            kp=float(r.uniform(2.7, 3.3)),
            kd=float(r.uniform(0.009, 0.011)),
            tilt_x_rad=float(np.deg2rad(r.uniform(20.0, 30.0))),
            tilt_y_rad=float(np.deg2rad(r.uniform(-5.0, 5.0))),
        )

    def _reset_env(self, e: int, q0: np.ndarray) -> None:
        c, hand, p = self.client, self.hands[e], self._sample_params()
        self.params[e] = p
        orn = tilted_hand_orientation(p.tilt_x_rad, p.tilt_y_rad)
        hand_pos = self.origins[e] + np.array([0.0, 0.0, HAND_HEIGHT_M])
        pb.resetBasePositionAndOrientation(hand.body, hand_pos.tolist(), orn, physicsClientId=c)
        self._hand_pose[e] = [*(hand_pos - self.origins[e]), *orn]
        if self.objects[e] >= 0:
            pb.removeBody(self.objects[e], physicsClientId=c)
        centre = hand.grasp_centre(self.q_nominal)
        self.objects[e] = object_body(c, self._collision_shape(p.shape, p.scale), centre, p.mass_kg, p.com_m)
        pb.setJointMotorControl2(
            self.objects[e], 0, pb.VELOCITY_CONTROL, targetVelocity=0, force=OBJECT_JOINT_FRICTION_NM, physicsClientId=c
        )
        pb.changeDynamics(self.objects[e], 0, lateralFriction=p.friction, restitution=p.restitution, physicsClientId=c)
        # PyBullet multiplies the pair's coefficients: friction is the object's value, restitution r^2
        # (the shipped skills were trained so; method.md's U[0, 1] is thus the pads' and the object's each)
        hand.set_friction(1.0, p.restitution)
        hand.reset_joints(q0)
        self._targets[e] = q0
        self._apply_targets(e, q0)

    def _collision_shape(self, shape: str, scale: float) -> int:
        """PyBullet keeps every collision shape ever made; a reset reuses the one of its (shape, scale)."""
        key = (shape, scale)
        if key not in self._collision_shapes:
            geom = objects.object_geometry(self.cfg.task, shape)
            self._collision_shapes[key] = object_shapes(self.client, geom, scale, visual=False)[0]
        return self._collision_shapes[key]

    # ------------------------------------------------------------------ stepping
    def _apply_targets(self, e: int, q_t: np.ndarray) -> None:
        p = self.params[e]
        self.hands[e].pd_drive(q_t, self._q[e], self._qd[e], p.kp, p.kd, self.dt)

    def step(self, targets: np.ndarray) -> None:
        t = np.asarray(targets, dtype=float)
        if t.shape != (self.num_envs, 12):
            raise ConfigError(f"targets must have shape ({self.num_envs}, 12), got {t.shape}")
        t = np.where(np.isfinite(t), t, self._targets)  # NaN never reaches physics: keep the last target
        t = np.clip(t, self.joint_lower, self.joint_upper)
        self._targets = t
        for e in range(self.num_envs):
            self._apply_targets(e, t[e])
        for _ in range(self.substeps):
            pb.stepSimulation(physicsClientId=self.client)
        self._read_state(np.arange(self.num_envs))
        self._links = None
        bad = ~(np.isfinite(self._q).all(1) & np.isfinite(self._obj_angle) & (np.abs(self._qd).max(1) < 1e3))
        if bad.any():
            self.faults += int(bad.sum())
            self.reset(np.flatnonzero(bad))

    def _read_state(self, ids: np.ndarray) -> None:
        c = self.client
        for e in ids:
            q, qd, tau = self.hands[e].joint_states()
            self._q[e], self._qd[e], self._tau[e] = q, qd, tau
            s = pb.getJointState(self.objects[e], 0, physicsClientId=c)
            self._obj_angle[e], self._obj_vel[e] = s[0], s[1]

    # ------------------------------------------------------------------ accessors
    def hand_q(self) -> np.ndarray:
        return self._q.copy()

    def hand_qd(self) -> np.ndarray:
        return self._qd.copy()

    def hand_torque(self) -> np.ndarray:
        return self._tau.copy()

    def targets(self) -> np.ndarray:
        return self._targets.copy()

    def object_angle(self) -> np.ndarray:
        """Unwrapped joint angle; the joint axis points down, so positive = clockwise from above = fastening."""
        return self._obj_angle.copy()

    def object_angvel(self) -> np.ndarray:
        return self._obj_vel.copy()

    def object_pos(self) -> np.ndarray:
        return self._link_states().obj_pos.copy()

    def fingertip_pos(self) -> np.ndarray:
        return self._link_states().tip_pos.copy()

    def fingertip_contact(self) -> np.ndarray:
        return np.stack([h.tip_contacts(o) for h, o in zip(self.hands, self.objects, strict=True)])

    def privileged(self) -> np.ndarray:
        """(N, len(PRIVILEGED_NAMES)) in PRIVILEGED_LAYOUT order."""
        n, ln = self.num_envs, self._link_states()
        p = self.params
        shape_ids = [objects.valid_shapes(self.cfg.task).index(x.shape) for x in p]
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
                np.array([[x.friction, x.scale, x.restitution, x.kp, x.kd] for x in p]),
                self._hand_pose,
                np.array(shape_ids, dtype=float)[:, None],
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
