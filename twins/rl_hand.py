"""One left XHand body of the simplified RL world: canonical joints, fingertip links, contacts, actuation."""

from __future__ import annotations

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints
from twins import rl_recipe as recipe
from twins.bullet import link_indices
from twins.rl_recipe import SceneParams

MIN_MOTOR_FORCE_NM = recipe.HAND_JOINT_FRICTION_NM  # a bound of 0 would let a joint at its target drift


class RLHand:
    """One left XHand body: canonical joint ids, fingertip links, contacts."""

    def __init__(self, client: int, path: str, base: np.ndarray) -> None:
        flags = pb.URDF_USE_INERTIA_FROM_FILE
        self.client = client
        self.body = pb.loadURDF(path, base.tolist(), useFixedBase=True, flags=flags, physicsClientId=client)
        jn, ln = link_indices(client, self.body)
        self.joint_ids = [jn[n] for n in joints.HAND_JOINT_NAMES]
        self.tip_ids = [ln[n] for n in recipe.TIP_LINKS]
        finger = {ln[d]: i for i, d in enumerate(recipe.DISTAL_LINKS)}
        finger.update({ln[t]: i for i, t in enumerate(recipe.TIP_LINKS)})  # the tip boxes touch too
        self.finger_of_link = finger
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

    def torque_pd(self, q_t: np.ndarray, p: SceneParams, effort: np.ndarray) -> np.ndarray:
        """One physics step of torque PD, tau = Kp (q_t - q) - Kd qd, clipped to `effort` (the torque)."""
        q, qd = self.joint_states()
        tau = np.clip(p.kp * (q_t - q) - p.kd * qd, -effort, effort)
        pb.setJointMotorControlArray(
            self.body, self.joint_ids, pb.TORQUE_CONTROL, forces=tau.tolist(), physicsClientId=self.client
        )
        return tau

    def joint_states(self) -> tuple[np.ndarray, np.ndarray]:
        s = pb.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([x[0] for x in s]), np.array([x[1] for x in s])

    def tip_states(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = pb.getLinkStates(
            self.body, self.tip_ids, computeLinkVelocity=1, computeForwardKinematics=1, physicsClientId=self.client
        )
        return np.array([x[4] for x in s]), np.array([x[5] for x in s]), np.array([x[6] for x in s])

    def contacts(self, obj: int) -> np.ndarray:
        touching = np.zeros(5, dtype=bool)
        for c in pb.getContactPoints(bodyA=self.body, bodyB=obj, physicsClientId=self.client):
            i = self.finger_of_link.get(c[3])
            if i is not None:
                touching[i] = True
        return touching
