"""Wrist control: operator commands -> a tool pose target -> limited UR5e joint targets.

Each step integrates the command into the tool pose target (tool speed
limited, clamped into the workspace box), solves the closed-form IK nearest the
joint command in effect, then limits joint speed and acceleration by scaling
the whole joint step (its direction is kept, so the tool stays on its path).
Whatever limited the step is reported in `WristStep.events`; when IK fails the
arm keeps its last reachable target and the step says so. After a limited step
the target is pulled back onto the arm's commanded pose, so it never runs ahead
of what the arm was actually sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexscrew_sdk import kinematics
from dexscrew_sdk.safety import JointLimits, Workspace
from dexscrew_sdk.teleop.command import Frame, MotionKind, OperatorCommand, TeleopError

# Event names (recorded per step and shown on the status line).
IK_FAILED = "ik_failed"
TOOL_SPEED = "tool_speed"
JOINT_SPEED = "joint_speed"
JOINT_ACCEL = "joint_accel"
WORKSPACE = "workspace"
TRACKING = "tracking"
EVENTS = (IK_FAILED, TOOL_SPEED, JOINT_SPEED, JOINT_ACCEL, WORKSPACE, TRACKING)


@dataclass(frozen=True)
class WristLimits:
    max_linear_m_s: float = 0.10
    max_angular_rad_s: float = 0.8
    max_joint_speed_rad_s: float = 1.0  # below the UR5e's pi rad/s: teleop never needs more
    max_joint_accel_rad_s2: float = 8.0
    workspace: Workspace = field(default_factory=lambda: Workspace((-0.9, -0.9, 0.02), (0.9, 0.9, 1.0)))
    tracking_tolerance_rad: float = 0.15  # measured vs commanded joint gap reported as a tracking event

    def __post_init__(self) -> None:
        for name in ("max_linear_m_s", "max_angular_rad_s", "max_joint_speed_rad_s", "max_joint_accel_rad_s2"):
            v = float(getattr(self, name))
            if not (np.isfinite(v) and v > 0):
                raise TeleopError(f"wrist limits: {name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class WristStep:
    q_target_rad: np.ndarray  # (6,) joint target to send this step
    tool_target: np.ndarray  # (6,) tool pose target the step aimed at (after tool limits)
    ik_ok: bool
    events: tuple[str, ...]

    @property
    def ik_state(self) -> str:
        return "ok" if self.ik_ok else "FAIL"


def _rotate(rotvec: np.ndarray) -> np.ndarray:
    return kinematics.rotvec_to_matrix(rotvec)


class WristController:
    """Stateful: `reset(q)` on the arm's current joints, then one `step(cmd, q_measured)` per control period."""

    def __init__(
        self,
        tool_offset: np.ndarray,
        period_s: float,
        joint_limits: JointLimits,
        limits: WristLimits | None = None,
    ) -> None:
        if not period_s > 0:
            raise TeleopError(f"wrist control: period_s must be positive, got {period_s}")
        self.tool_offset = np.asarray(tool_offset, dtype=float)
        self.period_s = float(period_s)
        self.joint_limits = joint_limits
        self.limits = limits or WristLimits()
        self.q_cmd = np.zeros(6)
        self.qd_cmd = np.zeros(6)
        self.target = np.eye(4)

    def tool_pose(self, q_rad: np.ndarray) -> np.ndarray:
        return kinematics.forward(q_rad, self.tool_offset)

    def reset(self, q_rad: np.ndarray) -> None:
        """Start from where the arm is, at rest."""
        self.q_cmd = np.asarray(q_rad, dtype=float).copy()
        self.qd_cmd = np.zeros(6)
        self.target = kinematics.pose_to_matrix(self.tool_pose(self.q_cmd))

    def _increment(self, cmd: OperatorCommand, events: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lim, dt = self.limits, self.period_s
        delta = cmd.motion * cmd.speed_scale * (dt if cmd.kind == MotionKind.TWIST else 1.0)
        dp, dw = delta[:3], delta[3:]
        max_p, max_w = lim.max_linear_m_s * dt, lim.max_angular_rad_s * dt
        norm_p, norm_w = float(np.linalg.norm(dp)), float(np.linalg.norm(dw))
        if norm_p > max_p or norm_w > max_w:
            events.append(TOOL_SPEED)
            dp = dp * min(1.0, max_p / norm_p) if norm_p > 0 else dp
            dw = dw * min(1.0, max_w / norm_w) if norm_w > 0 else dw
        return dp, dw

    def _moved_target(self, cmd: OperatorCommand, events: list[str]) -> np.ndarray:
        target = self.target.copy()
        if not cmd.moving:
            return target
        dp, dw = self._increment(cmd, events)
        rot = target[:3, :3]
        if cmd.frame == Frame.TOOL:
            target[:3, 3] = target[:3, 3] + rot @ dp
            target[:3, :3] = rot @ _rotate(dw)
        else:
            target[:3, 3] = target[:3, 3] + dp
            target[:3, :3] = _rotate(dw) @ rot
        ws = self.limits.workspace
        clamped = np.clip(target[:3, 3], ws.min_xyz_m, ws.max_xyz_m)
        if not np.array_equal(clamped, target[:3, 3]):
            events.append(WORKSPACE)
            target[:3, 3] = clamped
        return target

    def step(self, cmd: OperatorCommand, q_measured_rad: np.ndarray | None = None) -> WristStep:
        events: list[str] = []
        if q_measured_rad is not None:
            gap = float(np.max(np.abs(np.asarray(q_measured_rad, dtype=float) - self.q_cmd)))
            if gap > self.limits.tracking_tolerance_rad:
                events.append(TRACKING)
        target = self._moved_target(cmd, events)
        jl = self.joint_limits
        pose = kinematics.matrix_to_pose(target)
        q_sol = kinematics.inverse_nearest(pose, self.q_cmd, self.tool_offset, jl.lower_rad, jl.upper_rad)
        ik_ok = q_sol is not None
        if q_sol is None:
            events.append(IK_FAILED)
            q_sol = self.q_cmd  # keep the last reachable target; the operator is told
            target = self.target
            pose = kinematics.matrix_to_pose(target)
        q_next = self._limit(q_sol, events)
        limited = any(e in events for e in (JOINT_SPEED, JOINT_ACCEL))
        self.target = kinematics.pose_to_matrix(self.tool_pose(q_next)) if limited else target
        return WristStep(q_next.copy(), pose, ik_ok, tuple(events))

    def _limit(self, q_sol: np.ndarray, events: list[str]) -> np.ndarray:
        lim, dt = self.limits, self.period_s
        qd = (q_sol - self.q_cmd) / dt
        peak = float(np.max(np.abs(qd)))
        if peak > lim.max_joint_speed_rad_s:
            events.append(JOINT_SPEED)
            qd = qd * (lim.max_joint_speed_rad_s / peak)
        dqd = qd - self.qd_cmd
        peak_a = float(np.max(np.abs(dqd))) / dt
        if peak_a > lim.max_joint_accel_rad_s2:
            events.append(JOINT_ACCEL)
            qd = self.qd_cmd + dqd * (lim.max_joint_accel_rad_s2 / peak_a)
        q_next = self.joint_limits.clip(self.q_cmd + qd * dt)
        self.qd_cmd = (q_next - self.q_cmd) / dt
        self.q_cmd = q_next
        return q_next
