"""The full twin's physics: UR5e + XHand, and a nut on a threaded bolt or a screwdriver in a screw.

Nut: one multibody on a fixed bolt; a prismatic carrier (axis z) and the nut on a
revolute child. The carrier's stiff position motor follows pitch x turns every
physics step (both ways). A JOINT_GEAR constraint couples the same two joints
exactly when the nut is driven, but the fingers pressing on the nut pushed the
carrier along the gear's soft direction (1 mm with 0.03 rad of turning at 10
solver iterations), so the thread is this servo instead.
The hand starts in the RL world's nominal grasp (same tilt, same object pose in
the palm frame), turned about the vertical to face away from the arm base. The
thread's friction torque rises with MISALIGNMENT, i.e. the object's axis and
centre seen from the palm drifting from that nominal grasp, and with lost
downward engagement (the nut has gone down the bolt but the fingers have not
followed), so a static arm stalls the task.
Screwdriver: the handle rides a prismatic joint along its axis and a revolute
joint; it drives the screw only while seated, so lifting or tilting makes it
slip. A seated blade transmitting torque T presses on the slot walls with T / r,
whose friction holds it in the slot axially: up to BIT_FRICTION x T / BIT_RADIUS_M
(24 N at the base 0.2 N m), so fingers brushing the handle upwards do not unseat
it, while the arm pulling up does. Unseated, the handle is free along the axis
and rests on the screw head under gravity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints, kinematics
from twins import objects
from twins.bullet import (
    HandModel,
    link_indices,
    object_shapes,
    official_init_canonical,
    rot_z,
    tilted_hand_matrix,
    urdf_file,
)
from twins.ur5e_model import UR5E_EFFORT_NM, arm_with_hand_urdf

FASTEN_AXIS = np.array([0.0, 0.0, -1.0])  # joint axis: positive angle = clockwise from above
HAND_POS_M = np.array([-0.45, -0.13, 0.32])  # wrist position in the arm base frame at reset
ENGAGE_SLACK_M = 0.001  # the fingers may lag the nut by this much before friction rises
SEAT_TOLERANCE_M = 0.002  # a handle lifted more than this off the screw is not driving it
BIT_FRICTION = 0.3  # steel blade on steel slot walls
BIT_RADIUS_M = 0.0025  # lever arm of the blade's contact in the slot
# Arm joint servo gains (position and velocity error corrected per step). The engine's default 0.1 let
# the fingers' reaction push the palm ~3 mm / 2 deg off its hold; a UR5e's flange barely moves under a few N.
ARM_KP, ARM_KD = 0.5, 1.0
THREAD_AXIAL_N = 200.0  # the thread carries axial loads: pushing the nut barely moves it


@dataclass
class TaskParams:
    task: str = "nut"
    shape: str = "triangular"
    pitch_m: float = 0.00175
    turns_required: float = 4.0
    base_friction_nm: float = 0.2  # the RL world's object joint friction: the nominal grasp pays this
    misalign_friction_nm_per_rad: float = 1.5  # object axis tilted in the palm frame vs the nominal grasp
    offset_friction_nm_per_m: float = 200.0  # object axis pushed sideways in the palm frame
    engage_friction_nm_per_m: float = 2000.0
    max_friction_nm: float = 6.0
    scale: float = 1.0
    mass_kg: float = 0.05
    lateral_friction: float = 1.0
    tilt_rad: float = float(np.deg2rad(25.0))
    pose_offset_m: np.ndarray = field(default_factory=lambda: np.zeros(3))


def hand_rotation(tilt_rad: float) -> np.ndarray:
    """The RL world's tilted grasp turned half a turn about the vertical, so the fingers point away from
    the arm base (-x): a turn about the object's (vertical) axis leaves the hand-object relation unchanged."""
    return rot_z(np.pi) @ tilted_hand_matrix(tilt_rad)


class Scene:
    """One PyBullet world holding the cell; stepped by TwinCell."""

    def __init__(self, physics_hz: float = 200.0, solver_iterations: int = 10) -> None:
        self.client = pb.connect(pb.DIRECT)
        self.dt = 1.0 / physics_hz
        self.solver_iterations = solver_iterations
        self.params = TaskParams()

    # ------------------------------------------------------------------ building
    def build(self, params: TaskParams) -> None:
        c = self.client
        pb.resetSimulation(physicsClientId=c)
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt, numSolverIterations=self.solver_iterations, physicsClientId=c
        )
        self.params = params
        self.robot = pb.loadURDF(urdf_file(arm_with_hand_urdf()), useFixedBase=True, physicsClientId=c)
        jn, self.links = link_indices(c, self.robot)
        self.arm_ids = [jn[n] for n in joints.ARM_JOINT_NAMES]
        self.hand = HandModel.attach(c, self.robot)
        self.hand.set_friction(1.0, 0.0)
        target = np.eye(4)
        target[:3, :3] = hand_rotation(params.tilt_rad)
        target[:3, 3] = HAND_POS_M
        q = kinematics.inverse(kinematics.matrix_to_pose(target), joints.UR5E_HOME_RAD)
        if q is None:
            raise RuntimeError("no arm pose reaches the twin's start pose; check HAND_POS_M")
        for j, v in zip(self.arm_ids, q, strict=True):
            pb.resetJointState(self.robot, j, float(v), physicsClientId=c)
        q_hand = official_init_canonical(params.task)
        centre = self.hand.grasp_centre(q_hand) + params.pose_offset_m
        self.hand.reset_joints(q_hand)
        self._build_object(centre)
        self.ref_gap_m = self._grasp_height() - self.object_height()
        self.ref_axis, self.ref_centre = self._object_in_palm()
        self.turn_offset = 0.0  # screw turns done while seated (screwdriver)
        self.screw_depth_m = 0.0
        self.friction_nm = params.base_friction_nm

    def _build_object(self, centre: np.ndarray) -> None:
        c, p = self.client, self.params
        geom = objects.object_geometry(p.task, p.shape)
        col, vis = object_shapes(c, geom, p.scale, visual=True)
        carrier = pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.001, physicsClientId=c)
        bolt_len = centre[2]
        bolt_vis = pb.createVisualShape(
            pb.GEOM_CYLINDER,
            radius=objects.BOLT_RADIUS_M if p.task == "nut" else 0.004,
            length=bolt_len,
            visualFramePosition=[0, 0, -bolt_len / 2],
            rgbaColor=[0.6, 0.6, 0.6, 1],
            physicsClientId=c,
        )
        travel = (p.turns_required + 2.0) * p.pitch_m
        self.obj = pb.createMultiBody(
            baseMass=0,
            baseVisualShapeIndex=bolt_vis,
            basePosition=list(centre),
            linkMasses=[0.002, p.mass_kg],
            linkCollisionShapeIndices=[carrier, col],
            linkVisualShapeIndices=[-1, vis],
            linkPositions=[[0, 0, 0], [0, 0, 0]],
            linkOrientations=[[0, 0, 0, 1]] * 2,
            linkInertialFramePositions=[[0, 0, 0]] * 2,
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2,
            linkParentIndices=[0, 1],
            linkJointTypes=[pb.JOINT_PRISMATIC, pb.JOINT_REVOLUTE],
            linkJointAxis=[[0, 0, 1], list(FASTEN_AXIS)],
            physicsClientId=c,
        )
        pb.setCollisionFilterGroupMask(self.obj, 0, 0, 0, physicsClientId=c)
        pb.changeDynamics(self.obj, 1, lateralFriction=p.lateral_friction, physicsClientId=c)
        pb.setJointMotorControl2(self.obj, 0, pb.VELOCITY_CONTROL, force=0, physicsClientId=c)
        if p.task == "nut":
            pb.changeDynamics(self.obj, 0, jointLowerLimit=-travel, jointUpperLimit=travel, physicsClientId=c)
        else:
            pb.changeDynamics(self.obj, 0, jointLowerLimit=0.0, jointUpperLimit=0.05, physicsClientId=c)
        self._set_thread_friction(p.base_friction_nm)

    # ------------------------------------------------------------------ state
    def object_angle(self) -> float:
        return float(pb.getJointState(self.obj, 1, physicsClientId=self.client)[0])

    def object_travel(self) -> float:
        return float(pb.getJointState(self.obj, 0, physicsClientId=self.client)[0])

    def object_height(self) -> float:
        return float(pb.getLinkState(self.obj, 1, physicsClientId=self.client)[4][2])

    def _grasp_height(self) -> float:
        """Height of the palm: where the arm holds the fingers (fingertips move with the gait)."""
        return float(pb.getLinkState(self.robot, self.links["hand_palm"], physicsClientId=self.client)[4][2])

    def _object_in_palm(self) -> tuple[np.ndarray, np.ndarray]:
        """The object's axis (unit) and centre in the palm frame."""
        c = self.client
        palm = pb.getLinkState(self.robot, self.links["hand_palm"], physicsClientId=c)
        obj = pb.getLinkState(self.obj, 1, physicsClientId=c)
        r = np.array(pb.getMatrixFromQuaternion(palm[5])).reshape(3, 3)
        axis = np.array(pb.getMatrixFromQuaternion(obj[5])).reshape(3, 3)[:, 2]
        return r.T @ axis, r.T @ (np.asarray(obj[4]) - np.asarray(palm[4]))

    def misalignment(self) -> tuple[float, float]:
        """(angle rad, sideways offset m) of the object's axis in the palm frame vs the nominal grasp.

        Zero whatever the grasp's own tilt: only a hand (or nut) that has moved off the nominal grasp
        loads the thread sideways. Sliding along the axis is the engagement lag, counted separately."""
        axis, centre = self._object_in_palm()
        angle = float(np.arccos(np.clip(axis @ self.ref_axis, -1.0, 1.0)))
        d = centre - self.ref_centre
        return angle, float(np.linalg.norm(d - (d @ self.ref_axis) * self.ref_axis))

    def turns_done(self) -> float:
        if self.params.task == "nut":
            return self.object_angle() / (2 * np.pi)
        return self.screw_depth_m / self.params.pitch_m

    # ------------------------------------------------------------------ stepping
    def _set_thread_friction(self, torque_nm: float) -> None:
        pb.setJointMotorControl2(
            self.obj, 1, pb.VELOCITY_CONTROL, targetVelocity=0, force=torque_nm, physicsClientId=self.client
        )

    def restore_thread_friction(self) -> None:
        self._set_thread_friction(self.friction_nm)

    def update_task(self) -> None:
        """Once per control period: thread friction from misalignment and engagement; screw progress."""
        p = self.params
        tilt, offset = self.misalignment()
        aligned = p.base_friction_nm + p.misalign_friction_nm_per_rad * tilt + p.offset_friction_nm_per_m * offset
        if p.task == "nut":
            lag = self._grasp_height() - self.object_height() - self.ref_gap_m  # fingers above where they gripped
            friction = aligned + p.engage_friction_nm_per_m * max(0.0, lag - ENGAGE_SLACK_M)
        else:
            seated = self.object_travel() - (-self.screw_depth_m) < SEAT_TOLERANCE_M and tilt < np.deg2rad(15)
            angle = self.object_angle()
            if seated:  # the screw follows the shaft's turns and goes down with the pitch
                self.screw_depth_m = max(0.0, (angle - self.turn_offset) / (2 * np.pi) * p.pitch_m)
                friction = aligned
            else:  # slipping: the blade spins freely in the slot
                self.turn_offset = angle - self.screw_depth_m / p.pitch_m * 2 * np.pi
                friction = 0.01
            self._hold_in_slot(BIT_FRICTION * min(friction, p.max_friction_nm) / BIT_RADIUS_M if seated else 0.0)
            pb.changeDynamics(
                self.obj, 0, jointLowerLimit=-self.screw_depth_m, jointUpperLimit=0.05, physicsClientId=self.client
            )
        self.friction_nm = float(min(friction, p.max_friction_nm))
        self._set_thread_friction(self.friction_nm)

    def _hold_in_slot(self, max_force_n: float) -> None:
        """Keep the seated blade at the screw's depth with up to `max_force_n` (0 = free along the axis)."""
        c = self.client
        if max_force_n > 0.0:
            pb.setJointMotorControl2(
                self.obj,
                0,
                pb.POSITION_CONTROL,
                targetPosition=-self.screw_depth_m,
                force=max_force_n,
                positionGain=0.5,
                velocityGain=1.0,
                physicsClientId=c,
            )
        else:
            pb.setJointMotorControl2(self.obj, 0, pb.VELOCITY_CONTROL, force=0, physicsClientId=c)

    def arm_motors(self, q_set: np.ndarray) -> None:
        pb.setJointMotorControlArray(
            self.robot,
            self.arm_ids,
            pb.POSITION_CONTROL,
            targetPositions=q_set.tolist(),
            forces=list(UR5E_EFFORT_NM),
            positionGains=[ARM_KP] * 6,
            velocityGains=[ARM_KD] * 6,
            physicsClientId=self.client,
        )

    def arm_states(self) -> tuple[np.ndarray, np.ndarray]:
        s = pb.getJointStates(self.robot, self.arm_ids, physicsClientId=self.client)
        return np.array([x[0] for x in s]), np.array([x[1] for x in s])

    def step(self) -> None:
        if self.params.task == "nut":  # the thread: axial position and speed follow the turns, both ways
            angle, speed = pb.getJointState(self.obj, 1, physicsClientId=self.client)[:2]
            k = -self.params.pitch_m / (2 * np.pi)
            pb.setJointMotorControl2(
                self.obj,
                0,
                pb.POSITION_CONTROL,
                targetPosition=k * angle,
                targetVelocity=k * speed,  # feed-forward: the carrier moves with the turning, not after it
                force=THREAD_AXIAL_N,
                positionGain=0.5,
                velocityGain=1.0,
                physicsClientId=self.client,
            )
        pb.stepSimulation(physicsClientId=self.client)

    def healthy(self, *joint_values: np.ndarray) -> bool:
        """No NaN or runaway in the given joint readings (read once by the caller) nor in the object."""
        vals = np.concatenate([*joint_values, [self.object_angle(), self.object_travel()]])
        return bool(np.isfinite(vals).all() and np.abs(vals).max() < 1e3)

    def close(self) -> None:
        if pb.isConnected(self.client):
            pb.disconnect(self.client)
