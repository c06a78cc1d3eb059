"""One left XHand body of the simplified RL world: canonical joints, fingertip links, contacts, actuation.

The hand is loaded with its fixed links merged into their parents (URDF_MERGE_FIXED_LINKS): the `_tip` boxes
and the massless `_tip`/`_pad` frames become part of the distal links, the `ee_link` box part of the palm.
The collision geometry and the masses are the same; the articulation has 12 links instead of 23, which
cost a third of the world's time (docs/twins.md). The `_tip` frames are then the distal link frames moved
by their fixed offsets (no rotation), computed here.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints
from twins import rl_recipe as recipe
from twins import xhand_left
from twins.bullet import link_indices
from twins.rl_recipe import SceneParams

MIN_MOTOR_FORCE_NM = recipe.HAND_JOINT_FRICTION_NM  # a bound of 0 would let a joint at its target drift


def tip_offsets_m() -> np.ndarray:
    """(5, 3) each `_tip` frame's origin in its distal link's frame (fixed joints without rotation)."""
    fixed = {j.child: j for j in xhand_left._joints() if j.axis is None}
    out = []
    for tip, distal in zip(recipe.TIP_LINKS, recipe.DISTAL_LINKS, strict=True):
        j = fixed[tip]
        if j.parent != distal or any(j.rpy_rad):
            raise ValueError(f"{tip}: expected a fixed joint without rotation on {distal}, got {j}")
        out.append(j.xyz_m)
    return np.array(out)


TIP_OFFSETS_M = tip_offsets_m()


class RLHand:
    """One left XHand body: canonical joint ids, fingertip links, contacts."""

    def __init__(self, client: int, path: str, base: np.ndarray) -> None:
        flags = pb.URDF_USE_INERTIA_FROM_FILE | pb.URDF_MERGE_FIXED_LINKS  # see the module docstring
        self.client = client
        with _quiet_stdout():  # the merge logs every link it merges on the process's stdout
            self.body = pb.loadURDF(path, base.tolist(), useFixedBase=True, flags=flags, physicsClientId=client)
        jn, ln = link_indices(client, self.body)
        self.joint_ids = [jn[n] for n in joints.HAND_JOINT_NAMES]
        self.distal_ids = [ln[n] for n in recipe.DISTAL_LINKS]  # the tip boxes are part of these now
        self.finger_of_link = {link: i for i, link in enumerate(self.distal_ids)}
        for j in self.joint_ids:  # release the default velocity motors
            pb.setJointMotorControl2(self.body, j, pb.VELOCITY_CONTROL, force=0, physicsClientId=client)
        # PyBullet places a base by its inertial frame, not its link frame: keep the offset
        self.base_com_m = np.array(pb.getDynamicsInfo(self.body, -1, physicsClientId=client)[3])
        for link in [-1, *ln.values()]:  # the pair's friction and restitution are the object's
            pb.changeDynamics(self.body, link, lateralFriction=1.0, restitution=1.0, physicsClientId=client)

    def place(self, pos: np.ndarray, rot: np.ndarray) -> None:
        """Put left_hand_link's frame at `pos` with orientation `rot` (world <- hand)."""
        com = pos + rot @ self.base_com_m
        pb.resetBasePositionAndOrientation(self.body, com.tolist(), recipe.quat_xyzw(rot), physicsClientId=self.client)

    def reset_joints(self, q: np.ndarray) -> None:
        for j, v in zip(self.joint_ids, q, strict=True):
            pb.resetJointState(self.body, j, float(v), 0.0, physicsClientId=self.client)

    def drive(
        self, q_t: np.ndarray, q: np.ndarray, qd: np.ndarray, p: SceneParams, effort: np.ndarray, dt: float
    ) -> np.ndarray:
        """actuation="motor": the position motor emulating the PD for one control period; its PD torque."""
        force = np.clip(p.kp * np.abs(q_t - q) + p.kd * np.abs(qd), MIN_MOTOR_FORCE_NM, effort)
        n = len(self.joint_ids)
        pb.setJointMotorControlArray(
            self.body,
            self.joint_ids,
            pb.POSITION_CONTROL,
            targetPositions=q_t.tolist(),
            targetVelocities=[0.0] * n,
            positionGains=[p.kp * dt * dt / recipe.ARMATURE_KGM2] * n,
            velocityGains=[p.kd * dt / recipe.ARMATURE_KGM2] * n,
            forces=force.tolist(),
            physicsClientId=self.client,
        )
        return np.clip(p.kp * (q_t - q) - p.kd * qd, -effort, effort)

    def joint_states(self) -> tuple[np.ndarray, np.ndarray]:
        s = pb.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([x[0] for x in s]), np.array([x[1] for x in s])

    def tip_states(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The `_tip` frames' world positions, orientations (xyzw) and linear velocities."""
        s = pb.getLinkStates(
            self.body, self.distal_ids, computeLinkVelocity=1, computeForwardKinematics=1, physicsClientId=self.client
        )
        frame_pos, quat = np.array([x[4] for x in s]), np.array([x[5] for x in s])
        rot = _matrices(quat)
        pos = frame_pos + np.einsum("kij,kj->ki", rot, TIP_OFFSETS_M)
        com, v_com, w = (np.array([x[i] for x in s]) for i in (0, 6, 7))  # velocities are the COM's
        return pos, quat, v_com + np.cross(w, pos - com)

    def contacts(self, obj: int) -> np.ndarray:
        touching = np.zeros(5, dtype=bool)
        for c in pb.getContactPoints(bodyA=self.body, bodyB=obj, physicsClientId=self.client):
            i = self.finger_of_link.get(c[3])
            if i is not None:
                touching[i] = True
        return touching


def _matrices(quat_xyzw: np.ndarray) -> np.ndarray:
    """(k, 3, 3) rotation matrices of (k, 4) unit quaternions (x, y, z, w)."""
    x, y, z, w = quat_xyzw.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """File descriptor 1 to /dev/null for the block (PyBullet's C code writes there, not to sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
