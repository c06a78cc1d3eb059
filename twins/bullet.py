"""The full twin's engine layer beside Scene: the hand body and its drive, the object body, shapes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints
from dexscrew_sdk.atomic import write_atomic
from dexscrew_sdk.skills import layout
from twins import rl_recipe, xhand_left
from twins.objects import ObjectGeometry

ARMATURE_KGM2 = rl_recipe.ARMATURE_KGM2  # the XHand joints' rotor inertia, put into the links (PyBullet has none)


def official_init_canonical(task: str) -> np.ndarray:
    """The authors' initial hand targets for `task`, canonical order (the grasp the worlds are built around)."""
    return layout.init_targets_sdk(task)


def quat_from_matrix(r: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix (Shepperd's method, w branch is enough away from 180 deg)."""
    w = np.sqrt(max(1e-12, 1.0 + np.trace(r))) / 2.0
    if w > 1e-3:
        return ((r[2, 1] - r[1, 2]) / (4 * w), (r[0, 2] - r[2, 0]) / (4 * w), (r[1, 0] - r[0, 1]) / (4 * w), w)
    i = int(np.argmax(np.diag(r)))
    j, k = (i + 1) % 3, (i + 2) % 3
    s = np.sqrt(max(1e-12, 1.0 + r[i, i] - r[j, j] - r[k, k])) * 2.0
    q = [0.0, 0.0, 0.0, (r[k, j] - r[j, k]) / s]
    q[i], q[j], q[k] = 0.25 * s, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
    return tuple(q)  # type: ignore[return-value]


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def urdf_file(text: str) -> str:
    """Write URDF text once per content into a temp folder; PyBullet loads files only."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"dexscrew_twin_{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{digest}.urdf")
    if not os.path.exists(path):  # another process may be loading it: never a half-written file
        write_atomic(Path(path), lambda f: f.write(text), binary=False)
    return path


def link_indices(client: int, body: int) -> tuple[dict[str, int], dict[str, int]]:
    """(joint name -> index, link name -> index) of a body."""
    jn, ln = {}, {}
    for j in range(pb.getNumJoints(body, physicsClientId=client)):
        info = pb.getJointInfo(body, j, physicsClientId=client)
        jn[info[1].decode()] = j
        ln[info[12].decode()] = j
    return jn, ln


@dataclass(frozen=True)
class HandLinks:
    """A hand model's link names: its palm (root), distal links (thumb..pinky) and pad frames."""

    palm: str
    distal: tuple[str, ...]
    pads: tuple[str, ...]


LEFT_LINKS = HandLinks(xhand_left.PALM_LINK, xhand_left.DISTAL_LINKS, xhand_left.PAD_LINKS)


@dataclass
class HandModel:
    """An XHand inside a PyBullet body (alone, or mounted on an arm): joints, tips, motors."""

    client: int
    body: int
    joint_ids: list[int]  # canonical order
    tip_ids: list[int]  # thumb, index, middle, ring, pinky pad frames
    distal_ids: list[int]

    @classmethod
    def attach(cls, client: int, body: int, links: HandLinks | None = None) -> HandModel:
        """The hand inside `body`, found by its joint and link names (`links`: the left XHand's by default)."""
        links = links or LEFT_LINKS
        jn, ln = link_indices(client, body)
        hand = cls(
            client,
            body,
            [jn[n] for n in joints.HAND_JOINT_NAMES],
            [ln[n] for n in links.pads],
            [ln[n] for n in links.distal],
        )
        for j in hand.joint_ids:  # release the default velocity motors
            pb.setJointMotorControl2(body, j, pb.VELOCITY_CONTROL, force=0, physicsClientId=client)
        return hand

    def reset_joints(self, q: np.ndarray) -> None:
        for j, v in zip(self.joint_ids, q, strict=True):
            pb.resetJointState(self.body, j, float(v), 0.0, physicsClientId=self.client)

    def position_motors(
        self, q_t: np.ndarray, kp: float | np.ndarray, kd: float | np.ndarray, force: np.ndarray
    ) -> None:
        """PyBullet's position motors; gains (motor units) are one value or one per joint."""
        n = len(self.joint_ids)
        pb.setJointMotorControlArray(
            self.body,
            self.joint_ids,
            pb.POSITION_CONTROL,
            targetPositions=q_t.tolist(),
            targetVelocities=[0.0] * n,
            positionGains=np.broadcast_to(kp, (n,)).tolist(),
            velocityGains=np.broadcast_to(kd, (n,)).tolist(),
            forces=force.tolist(),
            physicsClientId=self.client,
        )

    def torques(self, tau_nm: np.ndarray) -> None:
        """Joint torques for the next physics step (the default motors were released at attach)."""
        pb.setJointMotorControlArray(
            self.body, self.joint_ids, pb.TORQUE_CONTROL, forces=tau_nm.tolist(), physicsClientId=self.client
        )

    def joint_states(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = pb.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([x[0] for x in s]), np.array([x[1] for x in s]), np.array([x[3] for x in s])

    def tip_states(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pad frame positions (5, 3), quaternions (5, 4) and linear velocities (5, 3), world frame."""
        s = pb.getLinkStates(
            self.body, self.tip_ids, computeLinkVelocity=1, computeForwardKinematics=1, physicsClientId=self.client
        )
        return np.array([x[4] for x in s]), np.array([x[5] for x in s]), np.array([x[6] for x in s])

    def tip_contacts(self, obj: int) -> np.ndarray:
        touching = np.zeros(5, dtype=bool)
        links = {link: i for i, link in enumerate(self.distal_ids)}
        for c in pb.getContactPoints(bodyA=self.body, bodyB=obj, physicsClientId=self.client):
            i = links.get(c[3])
            if i is not None:
                touching[i] = True
        return touching

    def set_friction(self, lateral: float, restitution: float) -> None:
        for link in self.distal_ids:
            pb.changeDynamics(
                self.body, link, lateralFriction=lateral, restitution=restitution, physicsClientId=self.client
            )


class HandDrive:
    """The one path from a hand command to the physics: the target, the gains and their application.

    The twin's Hand device writes targets and gains here (nothing else does); every physics step the scene
    applies the XHand's law as the authors' simulation and the RL world do: torque PD,
    tau = Kp gain_scale (target - q) - Kd qd, clipped to the XHand's effort limits, on joints whose links
    carry the 0.001 kg m^2 rotor inertia (twins.ur5e_model builds the hand with it)."""

    def __init__(self, dt_s: float, kp_nm_rad: float = 3.0) -> None:
        self.dt_s = dt_s
        self.hand: HandModel | None = None
        self.target_rad = np.zeros(joints.HAND_DOF)
        self.kp_nm_rad = np.full(joints.HAND_DOF, kp_nm_rad)
        self.kd_nm_s_rad = np.full(joints.HAND_DOF, 0.01)
        self.gain_scale = 1.0  # randomised scenes scale the position gain (hand gains vary between units)
        self.period_tau_nm = np.zeros(joints.HAND_DOF)  # the mean torque over the last control period
        self._sum_nm, self._steps = np.zeros(joints.HAND_DOF), 0

    def attach(self, hand: HandModel, target_rad: np.ndarray) -> None:
        """Drive a (re)built hand, holding `target_rad`; commanded gains are kept."""
        self.hand, self.target_rad = hand, np.asarray(target_rad, dtype=float).copy()
        self.period_tau_nm, self._sum_nm, self._steps = np.zeros(joints.HAND_DOF), np.zeros(joints.HAND_DOF), 0

    def apply(self, q_rad: np.ndarray, qd_rad_s: np.ndarray) -> None:
        """One physics step of the PD law from this step's joint reading."""
        if self.hand is None:
            raise RuntimeError("HandDrive.apply before attach: build the scene first")
        e = joints.XHAND_EFFORT_NM
        tau = np.clip(self.kp_nm_rad * self.gain_scale * (self.target_rad - q_rad) - self.kd_nm_s_rad * qd_rad_s, -e, e)
        self.hand.torques(tau)
        self._sum_nm += tau
        self._steps += 1

    def end_period(self) -> None:
        if self._steps:
            self.period_tau_nm = self._sum_nm / self._steps
        self._sum_nm, self._steps = np.zeros(joints.HAND_DOF), 0


class ObjectBody:
    """The object's multibody: a fixed base (bolt or screw), a prismatic CARRIER along the axis and the
    object on a revolute SPIN joint under it. Every engine call on the object goes through here."""

    CARRIER, SPIN = 0, 1  # link (= joint) indices, fixed by object_multibody's link order
    MAX_JOINT_SPEED_RAD_S = 1e3  # the engine's default 100 clips what a stop's reaction torque reads

    def __init__(self, client: int, body: int) -> None:
        self.client, self.body = client, body
        for j in (self.CARRIER, self.SPIN):
            pb.changeDynamics(body, j, maxJointVelocity=self.MAX_JOINT_SPEED_RAD_S, physicsClientId=client)
        pb.setJointMotorControl2(body, self.CARRIER, pb.VELOCITY_CONTROL, force=0, physicsClientId=client)

    def spin(self) -> tuple[float, float, float]:
        """(angle rad, speed rad/s, the spin motor's torque over the last step N m)."""
        s = pb.getJointState(self.body, self.SPIN, physicsClientId=self.client)
        return float(s[0]), float(s[1]), float(s[3])

    def travel_m(self) -> float:
        return float(pb.getJointState(self.body, self.CARRIER, physicsClientId=self.client)[0])

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of the object."""
        s = pb.getLinkState(self.body, self.SPIN, physicsClientId=self.client)
        return np.asarray(s[4]), np.array(pb.getMatrixFromQuaternion(s[5])).reshape(3, 3)

    def resist(self, torque_nm: float) -> None:
        """Coulomb friction on the spin joint: a velocity motor at rest bounded by `torque_nm`."""
        pb.setJointMotorControl2(
            self.body, self.SPIN, pb.VELOCITY_CONTROL, targetVelocity=0, force=torque_nm, physicsClientId=self.client
        )

    def drive(self, speed_rad_s: float, net_torque_nm: float) -> None:
        """A bounded drive: up to `speed_rad_s` with `net_torque_nm` (<= 0: held, the friction wins).

        A velocity motor rather than an external torque: a torque on the light object's joint reached
        hundreds of rad/s in one step before any speed cap could act."""
        speed = speed_rad_s if net_torque_nm > 0 else 0.0
        pb.setJointMotorControl2(
            self.body, self.SPIN, pb.VELOCITY_CONTROL, targetVelocity=speed, force=abs(net_torque_nm),
            physicsClientId=self.client,
        )  # fmt: skip

    def stop_at(self, angle_rad: float, max_torque_nm: float) -> None:
        """An end stop: the spin joint held at `angle_rad` with up to `max_torque_nm` (its reaction is spin()[2])."""
        pb.setJointMotorControl2(
            self.body,
            self.SPIN,
            pb.POSITION_CONTROL,
            targetPosition=angle_rad,
            force=max_torque_nm,
            positionGain=0.5,
            velocityGain=1.0,
            physicsClientId=self.client,
        )

    def torque(self, torque_nm: float) -> None:
        """A torque on the spin joint for the next step (added to the motor's; cleared after a step)."""
        pb.setJointMotorControl2(self.body, self.SPIN, pb.TORQUE_CONTROL, force=torque_nm, physicsClientId=self.client)

    def carrier_to(self, travel_m: float, speed_m_s: float, max_force_n: float) -> None:
        """The carrier's position motor (the thread, or the blade held in the slot)."""
        pb.setJointMotorControl2(
            self.body,
            self.CARRIER,
            pb.POSITION_CONTROL,
            targetPosition=travel_m,
            targetVelocity=speed_m_s,
            force=max_force_n,
            positionGain=0.5,
            velocityGain=1.0,
            physicsClientId=self.client,
        )

    def carrier_free(self) -> None:
        pb.setJointMotorControl2(self.body, self.CARRIER, pb.VELOCITY_CONTROL, force=0, physicsClientId=self.client)

    def carrier_limits(self, lower_m: float, upper_m: float) -> None:
        pb.changeDynamics(
            self.body, self.CARRIER, jointLowerLimit=lower_m, jointUpperLimit=upper_m, physicsClientId=self.client
        )

    def set_joints(self, angle_rad: float, travel_m: float) -> None:
        """Place the object (a perturbation); speeds are zeroed."""
        pb.resetJointState(self.body, self.SPIN, angle_rad, physicsClientId=self.client)
        pb.resetJointState(self.body, self.CARRIER, travel_m, physicsClientId=self.client)

    def set_friction(self, lateral: float) -> None:
        pb.changeDynamics(self.body, self.SPIN, lateralFriction=lateral, physicsClientId=self.client)


def object_multibody(
    client: int, collision: int, visual: int, centre: np.ndarray, mass_kg: float, base_visual: int = -1
) -> ObjectBody:
    """An object on a carrier on a fixed base at `centre`; its spin axis points down, so a positive
    angle is clockwise from above, the fastening direction of a right-hand thread."""
    carrier = pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.001, physicsClientId=client)
    body = pb.createMultiBody(
        baseMass=0,
        baseVisualShapeIndex=base_visual,
        basePosition=list(centre),
        linkMasses=[0.002, mass_kg],
        linkCollisionShapeIndices=[carrier, collision],
        linkVisualShapeIndices=[-1, visual],
        linkPositions=[[0, 0, 0], [0, 0, 0]],
        linkOrientations=[[0, 0, 0, 1]] * 2,
        linkInertialFramePositions=[[0, 0, 0]] * 2,
        linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2,
        linkParentIndices=[0, 1],
        linkJointTypes=[pb.JOINT_PRISMATIC, pb.JOINT_REVOLUTE],
        linkJointAxis=[[0, 0, 1], [0, 0, -1]],
        physicsClientId=client,
    )
    pb.setCollisionFilterGroupMask(body, ObjectBody.CARRIER, 0, 0, physicsClientId=client)
    return ObjectBody(client, body)


def load_hand(client: int, base_pos: np.ndarray, orn: tuple = (0, 0, 0, 1)) -> HandModel:
    """A fixed left XHand alone (its published inertias)."""
    path = urdf_file(xhand_left.hand_urdf())
    body = pb.loadURDF(
        path, list(base_pos), list(orn), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client
    )
    return HandModel.attach(client, body)


def object_shapes(client: int, geom: ObjectGeometry, scale: float, visual: bool) -> tuple[int, int]:
    """(collision shape, visual shape or -1) of an object. PyBullet never frees a collision shape
    (removeCollisionShape refuses one a removed body used), so a world that rebuilds objects reuses them."""
    s = [scale] * 3
    colour = [0.8, 0.65, 0.2, 1]
    if geom.boxes:  # a non-convex outline as a compound of boxes (createCollisionShapeArray takes no vertices)
        half = [[scale * h for h in box] for box in geom.boxes]
        col = pb.createCollisionShapeArray([pb.GEOM_BOX] * len(half), halfExtents=half, physicsClientId=client)
        vis = -1
        if visual:
            vis = pb.createVisualShapeArray(
                [pb.GEOM_BOX] * len(half), halfExtents=half, rgbaColors=[colour] * len(half), physicsClientId=client
            )
        return col, vis
    col = pb.createCollisionShape(pb.GEOM_MESH, vertices=geom.parts[0].tolist(), meshScale=s, physicsClientId=client)
    vis = -1
    if visual:
        vis = pb.createVisualShape(
            pb.GEOM_MESH,
            vertices=geom.parts[0].tolist(),
            indices=_hull_indices(len(geom.parts[0]) // 2),
            meshScale=s,
            rgbaColor=colour,
            physicsClientId=client,
        )
    return col, vis


def _hull_indices(n: int) -> list[int]:
    """Triangles of an extruded convex n-gon (bottom ring 0..n-1, top ring n..2n-1)."""
    tri: list[int] = []
    for i in range(1, n - 1):
        tri += [0, i + 1, i, n, n + i, n + i + 1]
    for i in range(n):
        j = (i + 1) % n
        tri += [i, j, n + j, i, n + j, n + i]
    return tri
