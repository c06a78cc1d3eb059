"""Operator commands validate at the boundary; wrist control integrates, limits and reports."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.interfaces import ur5e_limits
from dexscrew_sdk.safety import Workspace
from dexscrew_sdk.teleop import wrist as w
from dexscrew_sdk.teleop.command import Frame, MotionKind, OperatorCommand, TeleopError
from dexscrew_sdk.teleop.wrist import WristController, WristLimits

TOOL = np.array([0.0, 0.0, 0.15, 0.0, 0.0, 0.0])
Q0 = np.array([0.0, -1.9, 2.0, -1.7, -1.57, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"motion": [0.0] * 5}, "motion must be 6"),
        ({"motion": [0, 0, float("nan"), 0, 0, 0]}, "motion must be 6 finite"),
        ({"motion": ["a"] * 6}, "not numeric"),
        ({"speed_scale": 1.5}, "speed_scale"),
        ({"speed_scale": -0.1}, "speed_scale"),
        ({"kind": "twist"}, "kind must be a MotionKind"),
    ],
)
def test_bad_operator_commands_are_rejected_naming_the_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(TeleopError, match=needle):
        OperatorCommand(**kwargs)


def test_wrist_limits_must_be_positive() -> None:
    with pytest.raises(TeleopError, match="max_joint_accel_rad_s2"):
        WristLimits(max_joint_accel_rad_s2=0.0)


def _controller(**limits: float) -> WristController:
    c = WristController(TOOL, 0.05, ur5e_limits(), WristLimits(**limits))
    c.reset(Q0)
    return c


def _twist(v: list[float], frame: Frame = Frame.BASE, clutch: bool = True, scale: float = 1.0) -> OperatorCommand:
    return OperatorCommand(MotionKind.TWIST, np.array(v, float), frame, clutch=clutch, speed_scale=scale)


def test_a_base_frame_twist_moves_the_tool_by_rate_times_time() -> None:
    c = _controller(max_joint_accel_rad_s2=100.0)
    start = c.tool_pose(Q0)
    for _ in range(20):
        step = c.step(_twist([0.02, 0.0, 0.0, 0, 0, 0]))
        assert step.ik_ok and not step.events
    moved = kinematics.forward(step.q_target_rad, TOOL) - start
    np.testing.assert_allclose(moved[:3], [0.02, 0.0, 0.0], atol=1e-6)  # 20 steps x 50 ms x 2 cm/s
    np.testing.assert_allclose(
        kinematics.pose_to_matrix(start)[:3, :3],
        kinematics.pose_to_matrix(kinematics.forward(step.q_target_rad, TOOL))[:3, :3],
        atol=1e-6,
    )  # orientation kept


def test_a_tool_frame_step_goes_along_the_tools_z_and_needs_the_clutch() -> None:
    c = _controller(max_joint_accel_rad_s2=100.0)
    start = kinematics.pose_to_matrix(c.tool_pose(Q0))
    idle = c.step(OperatorCommand(MotionKind.POSE_DELTA, np.array([0, 0, 0.004, 0, 0, 0.0]), Frame.TOOL))
    np.testing.assert_allclose(idle.q_target_rad, Q0, atol=1e-9)  # clutch released: nothing moves
    step = c.step(OperatorCommand(MotionKind.POSE_DELTA, np.array([0, 0, 0.004, 0, 0, 0.0]), Frame.TOOL, clutch=True))
    moved = kinematics.pose_to_matrix(kinematics.forward(step.q_target_rad, TOOL))[:3, 3] - start[:3, 3]
    np.testing.assert_allclose(moved, 0.004 * start[:3, 2], atol=1e-6)


def test_tool_speed_is_limited_and_reported() -> None:
    c = _controller(max_linear_m_s=0.05, max_joint_accel_rad_s2=100.0)
    start = c.tool_pose(Q0)
    step = c.step(_twist([1.0, 0, 0, 0, 0, 0]))
    assert w.TOOL_SPEED in step.events
    assert np.linalg.norm(kinematics.forward(step.q_target_rad, TOOL)[:3] - start[:3]) <= 0.05 * 0.05 + 1e-9


def test_joint_speed_and_acceleration_are_limited_reported_and_the_target_does_not_run_ahead() -> None:
    c = _controller(max_linear_m_s=1.0, max_angular_rad_s=5.0, max_joint_speed_rad_s=0.5, max_joint_accel_rad_s2=2.0)
    prev_q, prev_qd, seen = Q0.copy(), np.zeros(6), set()
    for _ in range(30):
        step = c.step(_twist([0.0, 0.0, 0.0, 0, 0, 3.0]))  # a fast turn about the tool's vertical
        qd = (step.q_target_rad - prev_q) / 0.05
        assert np.max(np.abs(qd)) <= 0.5 + 1e-9
        assert np.max(np.abs(qd - prev_qd)) / 0.05 <= 2.0 + 1e-9
        seen.update(step.events)
        # the target the next step integrates from is where the arm was sent, not where it was asked to be
        np.testing.assert_allclose(c.target, kinematics.pose_to_matrix(c.tool_pose(step.q_target_rad)), atol=1e-9)
        prev_q, prev_qd = step.q_target_rad, qd
    assert {w.JOINT_ACCEL, w.JOINT_SPEED} <= seen


def test_leaving_the_workspace_is_clamped_and_reported() -> None:
    start = kinematics.forward(Q0, TOOL)
    box = Workspace((-1.0, -1.0, start[2] - 0.003), (1.0, 1.0, 1.0))
    c = _controller(max_joint_accel_rad_s2=100.0, workspace=box)  # type: ignore[arg-type]
    events = set()
    for _ in range(10):
        step = c.step(_twist([0, 0, -0.02, 0, 0, 0]))
        events.update(step.events)
    assert w.WORKSPACE in events
    assert kinematics.forward(step.q_target_rad, TOOL)[2] >= start[2] - 0.003 - 1e-9


def test_an_unreachable_target_is_an_ik_failure_shown_not_silently_held() -> None:
    c = _controller(max_linear_m_s=100.0, max_joint_speed_rad_s=100.0, max_joint_accel_rad_s2=1e6)
    c.limits = WristLimits(
        max_linear_m_s=100.0,
        max_joint_speed_rad_s=100.0,
        max_joint_accel_rad_s2=1e6,
        workspace=Workspace((-5, -5, -5), (5, 5, 5)),
    )
    step = c.step(OperatorCommand(MotionKind.POSE_DELTA, np.array([2.0, 0, 0, 0, 0, 0]), clutch=True))
    assert not step.ik_ok and w.IK_FAILED in step.events and step.ik_state == "FAIL"
    np.testing.assert_allclose(step.q_target_rad, Q0)  # the arm keeps its last reachable target ...
    back = c.step(_twist([0.01, 0, 0, 0, 0, 0]))  # ... and the next reachable command moves it again
    assert back.ik_ok and np.max(np.abs(back.q_target_rad - Q0)) > 0


def test_a_measured_arm_far_from_its_command_is_a_tracking_event() -> None:
    c = _controller()
    assert w.TRACKING in c.step(_twist([0] * 6), Q0 + 0.3).events
    assert w.TRACKING not in c.step(_twist([0] * 6), Q0).events


def test_home_is_reachable_and_round_trips() -> None:
    c = WristController(TOOL, 0.05, ur5e_limits())
    c.reset(joints.UR5E_HOME_RAD)
    step = c.step(_twist([0] * 6, clutch=True))
    np.testing.assert_allclose(step.q_target_rad, joints.UR5E_HOME_RAD, atol=1e-9)
