"""Closed-form UR5e IK: every branch reproduces the pose, and the nearest branch is the one chosen."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk import joints, kinematics

angles = hnp.arrays(np.float64, 6, elements=st.floats(-np.pi, np.pi))
TOOL = np.array([0.07, 0.017, 0.118, -1.38, -0.88, 0.88])  # a grasp-centre tool frame


def _same_pose(a: np.ndarray, b: np.ndarray, atol: float = 1e-7) -> bool:
    """Equal poses (1e-6 by a straight elbow, where acos near 1 resolves angles to ~sqrt(eps))."""
    ta, tb = kinematics.pose_to_matrix(a), kinematics.pose_to_matrix(b)
    return bool(np.allclose(ta, tb, atol=atol))


def _wrapped_gap(a: np.ndarray, b: np.ndarray) -> float:
    d = np.asarray(a) - np.asarray(b)
    return float(np.max(np.abs(np.arctan2(np.sin(d), np.cos(d)))))


@settings(max_examples=60, deadline=None)
@given(q=angles, tool=st.booleans())
def test_fk_of_every_ik_branch_is_the_pose(q: np.ndarray, tool: bool) -> None:
    offset = TOOL if tool else None
    pose = kinematics.forward(q, offset)
    sols = kinematics.inverse_all(pose, offset)
    assert sols, "a pose reached by FK must have IK solutions"
    for s in sols:
        assert _same_pose(kinematics.forward(s, offset), pose, atol=1e-6)
    # the configuration itself is among them, away from the wrist singularity (only wrist_1 + wrist_3 is
    # determined there) and the straight elbow (acos near 1 resolves the angles to ~sqrt(eps) only)
    if abs(np.sin(q[4])) > 1e-3 and abs(np.sin(q[2])) > 1e-3:
        assert min(_wrapped_gap(s, q) for s in sols) < 1e-6


@settings(max_examples=60, deadline=None)
@given(q=angles, dq=hnp.arrays(np.float64, 6, elements=st.floats(-0.05, 0.05)))
def test_nearest_branch_is_the_one_closest_to_the_current_joints(q: np.ndarray, dq: np.ndarray) -> None:
    assume(abs(np.sin(q[4])) > 0.05)  # at the wrist singularity theta6 is free: the seed's own is chosen
    assume(abs(np.sin(q[2])) > 0.1)  # and away from the straight elbow, where two branches meet
    wrist = kinematics.link_frames(q)[5][:3, 3]  # and from the shoulder singularity (wrist over the base axis)
    assume(np.hypot(wrist[0], wrist[1]) - kinematics.UR5E_D[3] > 0.02)
    pose = kinematics.forward(q)
    near = q + dq
    best = kinematics.inverse_nearest(pose, near)
    assert best is not None
    assert _same_pose(kinematics.forward(best), pose, atol=1e-6)
    assert np.max(np.abs(best - q)) < 1e-6  # a small step away, the original branch and turn are chosen
    lo, hi = joints.UR5E_LOWER_RAD, joints.UR5E_UPPER_RAD
    assert np.all(best >= lo) and np.all(best <= hi)


@settings(max_examples=40, deadline=None)
@given(q=angles, seed=angles)
def test_nearest_is_no_farther_than_any_other_branch(q: np.ndarray, seed: np.ndarray) -> None:
    pose = kinematics.forward(q)
    best = kinematics.inverse_nearest(pose, seed)
    assert best is not None
    cost = float(np.sum((best - seed) ** 2))
    # (at the wrist singularity theta6 is free: the branches are those keeping the seed's wrist 3 if reachable)
    for s in kinematics.inverse_all(pose, theta6_hint=float(seed[5])):
        # the same branch shifted by whole turns per joint, nearest to the seed
        shifted = s + 2 * np.pi * np.round((seed - s) / (2 * np.pi))
        if np.all(np.abs(shifted) <= 2 * np.pi):
            assert cost <= float(np.sum((shifted - seed) ** 2)) + 1e-9


def test_unreachable_pose_has_no_solution() -> None:
    far = np.array([2.0, 0.0, 0.3, 0.0, np.pi, 0.0])  # 2 m away: beyond the UR5e's ~0.85 m reach
    assert kinematics.inverse_all(far) == []
    assert kinematics.inverse_nearest(far, joints.UR5E_HOME_RAD) is None


def test_joint_limits_exclude_branches_outside_them() -> None:
    q = np.array([0.3, -1.2, 1.1, -0.5, 0.8, 0.4])
    pose = kinematics.forward(q)
    lower = np.array([-6.0, -6.0, -6.0, -6.0, -6.0, 1.0])  # wrist_3 must stay above 1 rad: 0.4 is excluded
    best = kinematics.inverse_nearest(pose, q, lower_rad=lower, upper_rad=np.full(6, 6.0))
    assert best is not None and best[5] >= 1.0
    assert _same_pose(kinematics.forward(best), pose, atol=1e-6)
