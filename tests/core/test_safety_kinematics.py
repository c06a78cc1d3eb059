"""Limits at the device boundary and the UR5e kinematics they rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.interfaces import ur5e_limits, xhand_limits
from dexscrew_sdk.safety import Workspace, as_vector


def test_home_tcp_matches_published_position() -> None:
    # hardware.md: the common home puts the flange near (-0.492, -0.133, 0.488) m.
    pose = kinematics.forward(joints.UR5E_HOME_RAD)
    np.testing.assert_allclose(pose[:3], [-0.492, -0.133, 0.488], atol=2e-3)


joint_vectors = hnp.arrays(np.float64, 6, elements=st.floats(-3.0, 3.0))


@settings(max_examples=40, deadline=None)
@given(q=joint_vectors)
def test_rotvec_round_trip(q: np.ndarray) -> None:
    t = kinematics.link_frames(q)[-1]
    back = kinematics.pose_to_matrix(kinematics.matrix_to_pose(t))
    np.testing.assert_allclose(back, t, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(q=joint_vectors, dq=hnp.arrays(np.float64, 6, elements=st.floats(-0.05, 0.05)))
def test_ik_recovers_nearby_pose(q: np.ndarray, dq: np.ndarray) -> None:
    # Away from singularities (wrist aligned, elbow straight, ...) IK from a nearby seed must converge.
    assume(np.linalg.svd(kinematics.jacobian(q), compute_uv=False).min() > 0.02)
    target = kinematics.forward(q)
    solved = kinematics.inverse(target, q + dq)
    assert solved is not None
    np.testing.assert_allclose(kinematics.forward(solved)[:3], target[:3], atol=1e-5)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ([0.0] * 5, "shape"),
        ([[0.0] * 6], "shape"),
        (["a"] * 6, r"entry 0 is 'a' \(str\), not a number"),
        ([0, 0, float("nan"), 0, 0, 0], "entry 2 is nan"),
        ([0, 0, 0, float("inf"), 0, 0], "entry 3 is inf"),
    ],
)
def test_as_vector_rejects_with_reason(value: object, needle: str) -> None:
    with pytest.raises(CommandRejected, match=needle):
        as_vector(value, 6, "target")


@given(hnp.arrays(np.float64, 12, elements=st.floats(-3, 3)))
def test_hand_limits_accept_exactly_the_box(q: np.ndarray) -> None:
    limits = xhand_limits()
    inside = bool(((q >= limits.lower_rad) & (q <= limits.upper_rad)).all())
    if inside:
        np.testing.assert_array_equal(limits.check_position(q, "t"), q)
    else:
        with pytest.raises(CommandRejected, match="outside"):
            limits.check_position(q, "t")


def test_error_names_the_joint() -> None:
    q = np.zeros(12)
    q[4] = 2.5
    with pytest.raises(CommandRejected, match=r"index_j1 = 2\.5000"):
        xhand_limits().check_position(q, "hand target")


def test_configured_limits_only_tighten() -> None:
    narrowed = ur5e_limits().narrowed(lower_rad=[-10.0] * 6, upper_rad=[1.0] * 6, max_speed_rad_s=[1.0] * 6)
    assert (narrowed.lower_rad == -2 * np.pi).all()  # cannot widen beyond the hardware
    assert (narrowed.upper_rad == 1.0).all()
    assert (narrowed.max_speed_rad_s == 1.0).all()


def test_workspace_box() -> None:
    ws = Workspace((-0.5, -0.5, 0.1), (0.5, 0.5, 1.0))
    ws.check(np.array([0.0, 0.0, 0.5]), "t")
    with pytest.raises(CommandRejected, match=r"TCP z = 0\.050"):
        ws.check(np.array([0.0, 0.0, 0.05]), "t")
