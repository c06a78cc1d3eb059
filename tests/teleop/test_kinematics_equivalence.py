"""The scalar UR5e kinematics give what the numpy matrix form gave (kinematics_reference.py): the same
branches, in the same order, equal to 1e-9, also next to the wrist, elbow and shoulder singularities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk import joints, kinematics
from tests.teleop import kinematics_reference as ref

TOOL = np.array([-0.0572, 0.0873, 0.118, 1.887, 0.782, 0.498])  # the nut task's tool frame
angles = hnp.arrays(np.float64, 6, elements=st.floats(-np.pi, np.pi))
ATOL = 1e-9


def _tol(*qs: np.ndarray) -> float:
    """1e-9, looser next to the straight or folded elbow and the aligned wrist: there acos(+-1 - d)
    resolves an angle to ~1e-16 / sin(angle) only and the wrist's error feeds the elbow's, so in either
    form a rounding difference moved the solution by up to ~1e-14 / (sin(q3) sin(q5)) (x100 margin)."""
    s3 = min(abs(np.sin(q[2])) for q in qs)
    s5 = min(abs(np.sin(q[4])) for q in qs)
    return max(ATOL, 1e-12 / max(s3 * s5, 1e-300))


def _near_singular(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Configurations a hair away from the UR5e's singularities (and on them)."""
    out = []
    for i in range(n):
        q = rng.uniform(-np.pi, np.pi, 6)
        eps = float(10.0 ** rng.uniform(-12, -3)) * rng.choice([-1.0, 1.0])
        kind = i % 4
        if kind == 0:  # wrist: wrist 1 and 3 aligned
            q[4] = eps if i % 8 else 0.0
        elif kind == 1:  # elbow stretched
            q[2] = eps if i % 8 != 1 else 0.0
        elif kind == 2:  # elbow folded back
            q[2] = np.pi - abs(eps)
        else:  # both wrist and elbow
            q[4], q[2] = eps, -eps
        out.append(q)
    return out


def _wrapped(a: np.ndarray, b: np.ndarray) -> float:
    d = np.asarray(a) - np.asarray(b)
    return float(np.max(np.abs(np.arctan2(np.sin(d), np.cos(d)))))


def _check_same(q: np.ndarray, seed: np.ndarray, offset: np.ndarray | None, limits: bool) -> None:
    pose = ref.forward(q, offset)
    # the pose from either FK: the rotation vector is ill-conditioned within ~1e-3 rad of a half turn
    # (in both forms), so compare the transforms there
    t_new, t_ref = kinematics.pose_to_matrix(kinematics.forward(q, offset)), ref.pose_to_matrix(pose)
    if np.pi - np.linalg.norm(pose[3:]) > 1e-3:
        np.testing.assert_allclose(kinematics.forward(q, offset), pose, rtol=0, atol=ATOL)
        np.testing.assert_allclose(t_new, t_ref, rtol=0, atol=ATOL)
    frames_new, frames_ref = kinematics.link_frames(q), ref.link_frames(q)
    np.testing.assert_allclose(np.array(frames_new), np.array(frames_ref), rtol=0, atol=1e-12)
    lo, hi = (joints.UR5E_LOWER_RAD, joints.UR5E_UPPER_RAD) if limits else (None, None)
    new = kinematics.inverse_nearest(pose, seed, offset, lo, hi)
    old = ref.inverse_nearest(pose, seed, offset, lo, hi)
    if min(abs(np.sin(q[2])), abs(np.sin(q[4]))) < 1e-5:
        # within 1e-5 of the aligned wrist or the straight elbow acos(+-1 - d) resolves the angle to ~1e-8
        # only, and each feeds the other: whether the singular branch (theta6 from the seed) or the regular
        # one (theta6 from rounding noise) is taken, and where the elbow lands, is decided by the last bits,
        # in either form (even the matrix form misses the seed's own configuration there about half the
        # time): the branch lists and the choice may differ, case by case, in either direction; the choice
        # must reach the pose (how often it keeps the configuration, or finds none: the last test) as
        # closely as 1e-6 or as the previous form's own choice does (at the straight elbow AND the aligned
        # wrist both forms return the same angles, 1.03e-6 from the pose: q = [1e-5, pi, 0, 0, 0, 0])
        if new is not None:
            reach = float(np.max(np.abs(ref.pose_to_matrix(ref.forward(new, offset)) - t_ref)))
            old_reach = (
                np.inf if old is None else float(np.max(np.abs(ref.pose_to_matrix(ref.forward(old, offset)) - t_ref)))
            )
            assert reach <= 1e-6 or reach <= old_reach * (1 + 1e-9), (reach, old_reach)
        return
    assert (new is None) == (old is None)
    new_all = kinematics.inverse_all(pose, offset, float(seed[5]))
    ref_all = ref.inverse_all(pose, offset, float(seed[5]))
    assert len(new_all) == len(ref_all), "a different number of branches"
    for a, b in zip(new_all, ref_all, strict=True):  # the same order: ties are broken the same way
        assert _wrapped(a, b) < _tol(q, b), (a, b)
    if new is None:
        return
    lo_, hi_ = (-2 * np.pi, 2 * np.pi) if lo is None else (lo, hi)
    if (
        min(np.min(np.abs(new - lo_)), np.min(np.abs(new - hi_)), np.min(np.abs(old - lo_)), np.min(np.abs(old - hi_)))
        < 1e-9
    ):
        # a joint on a limit (e.g. 0 wrapped up to exactly 2 pi): whether that turn is allowed is decided by
        # the sign of a rounding-level angle, in either form; the choice must still reach the pose, inside
        assert np.allclose(ref.pose_to_matrix(ref.forward(new, offset)), t_ref, atol=1e-6)
        assert np.all(new >= lo_ - 1e-9) and np.all(new <= hi_ + 1e-9)
        return
    np.testing.assert_allclose(new, old, rtol=0, atol=_tol(q, old))  # the same branch and turn, not just wrapped


@settings(max_examples=200, deadline=None)
@given(q=angles, dq=hnp.arrays(np.float64, 6, elements=st.floats(-0.1, 0.1)), tool=st.booleans(), lim=st.booleans())
@example(q=np.array([1e-5, np.pi, 0.0, 0.0, 0.0, 0.0]), dq=np.zeros(6), tool=False, lim=False)  # both singular
def test_random_poses_solve_as_before(q: np.ndarray, dq: np.ndarray, tool: bool, lim: bool) -> None:
    _check_same(q, q + dq, TOOL if tool else None, lim)


@settings(max_examples=60, deadline=None)
@given(q=angles, seed=hnp.arrays(np.float64, 6, elements=st.floats(-2 * np.pi, 2 * np.pi)))
def test_far_seeds_pick_the_same_branch_and_turn(q: np.ndarray, seed: np.ndarray) -> None:
    _check_same(q, seed, TOOL, True)


def test_poses_next_to_singularities_solve_as_before() -> None:
    rng = np.random.default_rng(7)
    for i, q in enumerate(_near_singular(rng, 240)):
        _check_same(q, q + rng.normal(0.0, 0.02, 6), TOOL if i % 2 else None, bool(i % 3))


def test_shoulder_singularity_and_unreachable_poses_solve_as_before() -> None:
    # the wrist centre over the base axis (r = d4 exactly makes acos(d4 / r) = 0) and beyond reach
    for pose in (
        np.array([0.0, 0.1333, 0.6, np.pi, 0.0, 0.0]),
        np.array([0.0, 0.05, 0.6, np.pi, 0.0, 0.0]),
        np.array([2.0, 0.0, 0.3, 0.0, np.pi, 0.0]),
        np.array([0.0, 0.0, 1.2, 0.0, 0.0, 0.0]),
    ):
        new_all, ref_all = kinematics.inverse_all(pose), ref.inverse_all(pose)
        assert len(new_all) == len(ref_all)
        for a, b in zip(new_all, ref_all, strict=True):
            assert _wrapped(a, b) < _tol(b)
        new, old = (
            kinematics.inverse_nearest(pose, joints.UR5E_HOME_RAD),
            ref.inverse_nearest(pose, joints.UR5E_HOME_RAD),
        )
        assert (new is None) == (old is None)
        if new is not None:
            np.testing.assert_allclose(new, old, rtol=0, atol=_tol(old))


@pytest.mark.parametrize("angle", [0.0, 1e-13, 1e-7, 0.5, 2.0, np.pi - 1e-2, np.pi - 1e-7, np.pi])
def test_rotation_vector_conversions_match(angle: float) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        axis = rng.normal(size=3)
        rv = axis / np.linalg.norm(axis) * angle
        r_new, r_ref = kinematics.rotvec_to_matrix(rv), ref.rotvec_to_matrix(rv)
        # a few ulps of 1: the two forms round in a different order (seen 1.1e-15 at angle pi)
        np.testing.assert_allclose(r_new, r_ref, rtol=0, atol=4e-15)
        back_new, back_ref = kinematics.matrix_to_rotvec(r_ref), ref.matrix_to_rotvec(r_ref)
        np.testing.assert_allclose(back_new, back_ref, rtol=0, atol=1e-12)


def test_next_to_the_singularities_the_configuration_is_kept_as_often_as_before() -> None:
    """Within 1e-5 rad of the aligned wrist or the stretched elbow which branch is found is decided by
    rounding in either form (above); what must not change is how often a seed next to the arm's
    configuration keeps it."""
    rng = np.random.default_rng(3)
    kept = {"new": 0, "old": 0}
    n = 600
    for i in range(n):
        q = rng.uniform(-np.pi, np.pi, 6)
        if i % 3:  # the wrist, the wrist and the elbow, the elbow
            q[4] = 10 ** rng.uniform(-12, -5) * rng.choice([-1.0, 1.0])
        if i % 3 != 1:
            q[2] = 10 ** rng.uniform(-12, -5) * rng.choice([-1.0, 1.0])
        pose = ref.forward(q, TOOL)
        seed = q + rng.normal(0.0, 0.02, 6)
        for name, mod in (("new", kinematics), ("old", ref)):
            sol = mod.inverse_nearest(pose, seed, TOOL)
            kept[name] += int(sol is not None and np.max(np.abs(sol - q)) < 0.1)
    assert kept["old"] > n // 3  # the cases are the hard ones, not unreachable ones
    assert kept["new"] >= kept["old"] - n // 50, kept
