"""The full twin's physics: UR5e + XHand, and a nut on a threaded bolt or a screwdriver in a screw.

The engine layer: this module and twins/bullet.py are the only parts of the full twin that call
PyBullet. One `step` advances the physics by one 200 Hz step; `read` returns a `Readout` of everything
the devices and the World report; a hand command reaches the physics only through `hand_drive`
(twins.bullet.HandDrive), applied once per control period by `control_update`.

Nut: a prismatic carrier (axis z) and the nut on a revolute child. The carrier's stiff position motor
follows pitch x turns every physics step (both ways); a JOINT_GEAR constraint coupled the same two
joints exactly when driven, but the fingers pressing on the nut pushed the carrier along the gear's
soft direction (1 mm with 0.03 rad of turning), so the thread is this servo instead.
The thread's friction and the seat are twins.fastening's (docs/twins.md, "Physics choices").
Screwdriver: the handle rides a prismatic joint along its axis and a revolute joint; it drives the
screw only while seated, and a seated blade is held in the slot by the friction of the torque it
transmits (twins.fastening.slot_hold_n).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints, kinematics
from twins import objects, rl_recipe, xhand_left
from twins.bullet import (
    LEFT_LINKS,
    HandDrive,
    HandModel,
    ObjectBody,
    link_indices,
    object_multibody,
    object_shapes,
    official_init_canonical,
    rot_x,
    rot_y,
    rot_z,
    urdf_file,
)
from twins.fastening import FastenState, ThreadParams
from twins.grasp import nominal_grasp
from twins.ur5e_model import UR5E_EFFORT_NM, arm_with_hand_urdf

HAND_POS_M = np.array([-0.45, -0.13, 0.32])  # wrist position in the arm base frame at reset
PALM_LINK = xhand_left.PALM_LINK
# Arm joint servo gains (position and velocity error corrected per step). The engine's default 0.1 let
# the fingers' reaction push the palm ~3 mm / 2 deg off its hold; a UR5e's flange barely moves under a few N.
ARM_KP, ARM_KD = 0.5, 1.0
THREAD_AXIAL_N = 200.0  # the thread carries axial loads: pushing the nut barely moves it
ASSIST_MAX_SPEED_RAD_S = 2 * np.pi  # the scripted assist drives at most one turn a second
CLOSE_HAND_S = 0.5  # at reset, the fingers close on the object for this long before time starts
HAND_FRICTION = 1.0  # every hand link's contact friction, the RL world's (the pair's value = this x the object's)
HAND_LINK_PREFIX = "left_hand"  # the hand's links in the arm-and-hand body


@dataclass
class TaskParams:
    task: str = "nut"
    shape: str = "triangular"
    pitch_m: float = 0.00175
    turns_required: float = 4.0
    thread: ThreadParams = field(default_factory=ThreadParams)
    scale: float = 1.0
    mass_kg: float = objects.NUT_KG
    lateral_friction: float | None = None  # the object's contact friction; None: the task's nominal
    tilt_rad: float = float(np.deg2rad(25.0))
    pose_offset_m: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def object_friction(self) -> float:
        """The object's contact friction (the pair's value: the pads carry 1.0 and PyBullet multiplies)."""
        return nominal_contact_friction(self.task) if self.lateral_friction is None else self.lateral_friction


def nominal_contact_friction(task: str) -> float:
    """The RL world's nominal pair value for `task` (rl_recipe.NOMINAL: nut 1, screwdriver 4)."""
    return rl_recipe.nominal_scene(task).contact_mu


@dataclass(frozen=True)
class Readout:
    """Everything one read of the engine gives the devices and the World (one read per advance)."""

    time_s: float
    arm_q_rad: np.ndarray
    arm_qd_rad_s: np.ndarray
    hand_q_rad: np.ndarray
    hand_qd_rad_s: np.ndarray
    hand_tau_nm: np.ndarray
    object_angle_rad: float
    object_travel_m: float
    turns: float  # positive = fastening; the screw's turns for the screwdriver
    friction_nm: float  # the thread's friction torque this control period
    seat_torque_nm: float  # the end stop's reaction torque (0 until the object seats)
    seated: bool  # at the end stop
    unseated: bool  # the screwdriver's blade is out of the slot (never for a nut)
    stalled: bool  # no progress over the stall window and not fastened
    object_pose: np.ndarray = field(default_factory=lambda: np.zeros(6))  # x, y, z m + rotation vector, world

    def healthy(self) -> bool:
        """No NaN or runaway in any joint."""
        vals = np.concatenate(
            [self.arm_q_rad, self.arm_qd_rad_s, self.hand_q_rad, self.hand_qd_rad_s,
             [self.object_angle_rad, self.object_travel_m]]
        )  # fmt: skip
        return bool(np.isfinite(vals).all() and np.abs(vals).max() < 1e3)


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return rot_z(yaw) @ rot_y(pitch) @ rot_x(roll)


def hand_rotation(tilt_rad: float) -> np.ndarray:
    """World <- left_hand_link: the RL world's tilted hand turned half a turn about the vertical, so the
    fingers point away from the arm base (-y): a turn about the object's (vertical) axis leaves the
    hand-object relation and gravity in the hand frame unchanged."""
    return rot_z(np.pi) @ rl_recipe.hand_rotation(tilt_rad)


def arm_start_pose(hand_rot: np.ndarray) -> np.ndarray:
    """Arm joints that put left_hand_link at HAND_POS_M with rotation `hand_rot` (through the mount)."""
    hand = np.eye(4)
    hand[:3, :3], hand[:3, 3] = hand_rot, HAND_POS_M
    mount = np.eye(4)
    mount[:3, :3] = rpy_matrix(*xhand_left.MOUNT_RPY_RAD)
    mount[:3, 3] = xhand_left.MOUNT_XYZ_M
    q = kinematics.inverse(kinematics.matrix_to_pose(hand @ np.linalg.inv(mount)), joints.UR5E_HOME_RAD)
    if q is None:
        raise RuntimeError("no arm pose reaches the twin's start pose; check HAND_POS_M")
    return q


class Scene:
    """One PyBullet world holding the cell."""

    def __init__(self, physics_hz: float = 200.0, solver_iterations: int = rl_recipe.BULLET_SOLVER_ITERATIONS) -> None:
        self.client = pb.connect(pb.DIRECT)
        self.dt = 1.0 / physics_hz
        self.solver_iterations = solver_iterations
        self.params = TaskParams()
        self.time_s = 0.0
        self.hand_drive = HandDrive(self.dt)  # one for the scene's life: the Hand device writes to it

    # ------------------------------------------------------------------ building
    def build(self, params: TaskParams) -> None:
        c = self.client
        pb.resetSimulation(physicsClientId=c)
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt, numSolverIterations=self.solver_iterations, physicsClientId=c
        )
        self.params, self.time_s = params, 0.0
        self.robot = pb.loadURDF(
            urdf_file(arm_with_hand_urdf()), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c
        )
        jn, self._links = link_indices(c, self.robot)
        self._arm_ids = [jn[n] for n in joints.ARM_JOINT_NAMES]
        self.hand = HandModel.attach(c, self.robot, LEFT_LINKS)
        self._hand_friction(HAND_FRICTION)
        hand_rot = hand_rotation(params.tilt_rad)
        q_arm = arm_start_pose(hand_rot)
        for j, v in zip(self._arm_ids, q_arm, strict=True):
            pb.resetJointState(self.robot, j, float(v), physicsClientId=c)
        self.hand.reset_joints(np.zeros(joints.HAND_DOF))  # open (straight fingers), away from the object
        self.hand_drive.attach(self.hand, official_init_canonical(params.task))
        grasp = nominal_grasp(params.task)  # the object where the skill was trained to find it
        centre = HAND_POS_M + hand_rot @ grasp.centre_m + params.pose_offset_m
        self.obj = self._build_object(centre)
        self._close_hand(q_arm)
        axis, offset = self._object_in_palm()
        gap = self._palm_height() - self.obj.pose()[0][2]
        self.fasten = FastenState(
            params.task,
            params.thread,
            params.pitch_m,
            params.turns_required,
            params.mass_kg,
            axis,
            offset,
            gap,
            pivot_below_grasp_m=objects.HANDLE_BLADE_BELOW_GRASP_M * params.scale if params.task != "nut" else 0.0,
        )
        self._assist_until_s = -1.0
        self.obj.resist(self.fasten.friction_nm)
        self.readout = self.read()

    def _hand_friction(self, lateral: float) -> None:
        """Every link of the hand, as the RL world's hand: the tip boxes, phalanges and palm touch the object
        too (left at the engine's default 0.5, the pair's value there was half the pads')."""
        for name, link in self._links.items():
            if name.startswith(HAND_LINK_PREFIX):
                pb.changeDynamics(
                    self.robot, link, lateralFriction=lateral, restitution=0.0, physicsClientId=self.client
                )

    def _close_hand(self, q_arm: np.ndarray) -> None:
        """The fingers close from open onto the object at the skill's initial targets while the object is
        held where it was built. Reset at those targets, the hulls started 5-9 mm inside every object, and
        resolving that overlap pushed the nut 2 mm down its thread in the first second."""
        self.arm_targets(q_arm)
        for _ in range(round(CLOSE_HAND_S / self.dt)):
            q, qd, _ = self.hand.joint_states()
            self.hand_drive.apply(q, qd)
            self.obj.stop_at(0.0, self.params.thread.seat_stop_nm)
            self.obj.carrier_to(0.0, 0.0, THREAD_AXIAL_N)
            pb.stepSimulation(physicsClientId=self.client)
        self.obj.set_joints(0.0, 0.0)
        if self.params.task == "screwdriver":
            self.obj.carrier_free()

    def _build_object(self, centre: np.ndarray) -> ObjectBody:
        c, p = self.client, self.params
        col, vis = object_shapes(c, objects.twin_object(p.task, p.shape), p.scale, visual=True)
        bolt_len = centre[2]
        bolt_vis = pb.createVisualShape(
            pb.GEOM_CYLINDER,
            radius=objects.BOLT_RADIUS_M if p.task == "nut" else 0.004,
            length=bolt_len,
            visualFramePosition=[0, 0, -bolt_len / 2],
            rgbaColor=[0.6, 0.6, 0.6, 1],
            physicsClientId=c,
        )
        obj = object_multibody(c, col, vis, centre, p.mass_kg, bolt_vis)
        obj.set_friction(p.object_friction())
        if p.task == "nut":
            travel = (p.turns_required + 2.0) * p.pitch_m
            obj.carrier_limits(-travel, travel)
        else:
            obj.carrier_limits(0.0, 0.05)
        return obj

    # ------------------------------------------------------------------ geometry
    def _palm_state(self) -> tuple[np.ndarray, np.ndarray]:
        s = pb.getLinkState(self.robot, self._links[PALM_LINK], physicsClientId=self.client)
        return np.asarray(s[4]), np.array(pb.getMatrixFromQuaternion(s[5])).reshape(3, 3)

    def _palm_height(self) -> float:
        """Height of the palm: where the arm holds the fingers (fingertips move with the gait)."""
        return float(self._palm_state()[0][2])

    def _object_in_palm(self) -> tuple[np.ndarray, np.ndarray]:
        """The object's axis (unit) and centre in the palm frame."""
        palm_pos, palm_rot = self._palm_state()
        pos, rot = self.obj.pose()
        return palm_rot.T @ rot[:, 2], palm_rot.T @ (pos - palm_pos)

    # ------------------------------------------------------------------ stepping
    def arm_targets(self, q_set: np.ndarray) -> None:
        """The arm's joint servos for the next step."""
        pb.setJointMotorControlArray(
            self.robot,
            self._arm_ids,
            pb.POSITION_CONTROL,
            targetPositions=q_set.tolist(),
            forces=list(UR5E_EFFORT_NM),
            positionGains=[ARM_KP] * 6,
            velocityGains=[ARM_KD] * 6,
            physicsClientId=self.client,
        )

    def control_update(self) -> None:
        """Once per control period: the thread's friction (the hand drive acts every step)."""
        self.hand_drive.end_period()
        axis, centre = self._object_in_palm()
        angle, _, _ = self.obj.spin()
        lag = self._palm_height() - self.obj.pose()[0][2]
        self.fasten.update(angle, self.obj.travel_m(), axis, centre, lag, self.time_s)
        if self.params.task == "screwdriver":
            self.obj.carrier_limits(-self.fasten.screw_depth_m, 0.05)
            hold = self.fasten.slot_hold_n()
            if hold > 0.0:
                self.obj.carrier_to(-self.fasten.screw_depth_m, 0.0, hold)
            else:
                self.obj.carrier_free()

    def start_assist(self, duration_s: float) -> None:
        self._assist_until_s = self.time_s + duration_s

    def step(self) -> None:
        """One physics step: the hand's PD, the thread's carrier, the seat stop or the friction, the assist."""
        q, qd, _ = self.hand.joint_states()
        self.hand_drive.apply(q, qd)
        angle, speed, _ = self.obj.spin()
        f = self.fasten
        if self.params.task == "nut":  # the thread: axial position and speed follow the turns, both ways
            k = -f.pitch_m / (2 * np.pi)
            self.obj.carrier_to(k * angle, k * speed, THREAD_AXIAL_N)
        stop = f.stop_angle(angle)
        assisting = self.time_s < self._assist_until_s
        if stop is not None:  # seated: the stop holds, whatever drives the object
            self.obj.stop_at(stop, f.params.seat_stop_nm)
            if assisting:
                self.obj.torque(f.params.assist_nm)
        elif assisting:  # the assist's torque against the thread's friction, at most one turn a second
            self.obj.drive(ASSIST_MAX_SPEED_RAD_S, f.params.assist_nm - f.friction_nm)
        else:
            self.obj.resist(f.friction_nm)
        pb.stepSimulation(physicsClientId=self.client)
        if self.params.task == "screwdriver":
            self._rest_on_screw()
        self.time_s += self.dt

    def _rest_on_screw(self) -> None:
        """The screw's head is a hard stop below the blade: the handle never goes deeper than the screw.

        The screw is held in its hole by its thread (hundreds of newtons axially) and moves only with the
        turns, so a handle pushed down stays where the screw is and the pads slip on it instead. A joint
        limit or a position motor at the screw's depth is solved together with the pads' contacts and gave
        way to the fingers' friction: the handle slid 5-9 mm below the screw. So the stop is a projection after
        each step: below the head, the carrier is put back on it and keeps only an upward speed."""
        floor = -self.fasten.screw_depth_m
        travel, speed = pb.getJointState(self.obj.body, ObjectBody.CARRIER, physicsClientId=self.client)[:2]
        if travel < floor:
            pb.resetJointState(self.obj.body, ObjectBody.CARRIER, floor, max(0.0, speed), physicsClientId=self.client)

    def read(self) -> Readout:
        """One read of every joint; kept as `self.readout`."""
        s = pb.getJointStates(self.robot, self._arm_ids, physicsClientId=self.client)
        hq, hqd, _ = self.hand.joint_states()
        angle, _, motor_nm = self.obj.spin()
        obj_pos, obj_rot = self.obj.pose()
        f = self.fasten
        seated, turns = f.at_stop, f.turns(angle)
        self.readout = Readout(
            time_s=self.time_s,
            arm_q_rad=np.array([x[0] for x in s]),
            arm_qd_rad_s=np.array([x[1] for x in s]),
            hand_q_rad=hq,
            hand_qd_rad_s=hqd,
            hand_tau_nm=self.hand_drive.period_tau_nm.copy(),
            object_angle_rad=angle,
            object_travel_m=self.obj.travel_m(),
            turns=turns,
            friction_nm=f.friction_nm,
            seat_torque_nm=max(0.0, -motor_nm) if seated else 0.0,  # the stop pushes against fastening
            seated=seated,
            unseated=f.unseated,
            stalled=f.stalled(self.time_s, turns),
            object_pose=np.concatenate([obj_pos, kinematics.matrix_to_rotvec(obj_rot)]),
        )
        return self.readout

    # ------------------------------------------------------------------ perturbations (World)
    def set_hand_joints(self, q_rad: np.ndarray) -> None:
        self.hand.reset_joints(q_rad)

    def rotate_object(self, turns: float) -> None:
        """Turn the object by `turns` (negative = loosening); a nut also moves along the thread."""
        angle = self.obj.spin()[0] + 2 * np.pi * turns
        travel = self.obj.travel_m()
        if self.params.task == "nut":
            travel -= turns * self.params.pitch_m
        self.obj.set_joints(angle, travel)
        self.fasten.moved(angle)

    # ------------------------------------------------------------------ pictures
    def render(self, yaw_deg: float, pitch_deg: float, size: tuple[int, int] = (480, 360)) -> np.ndarray:
        """An RGB image looking at the object (TinyRenderer: no display needed)."""
        c = self.client
        target = self.obj.pose()[0].tolist()
        view = pb.computeViewMatrixFromYawPitchRoll(target, 0.35, yaw_deg, pitch_deg, 0, 2, physicsClientId=c)
        proj = pb.computeProjectionMatrixFOV(50, size[0] / size[1], 0.01, 5.0, physicsClientId=c)
        _, _, rgba, _, _ = pb.getCameraImage(
            size[0], size[1], view, proj, renderer=pb.ER_TINY_RENDERER, physicsClientId=c
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(size[1], size[0], 4)[:, :, :3]

    def close(self) -> None:
        if pb.isConnected(self.client):
            pb.disconnect(self.client)
