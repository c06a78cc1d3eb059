"""The UR5e kinematics as first written (numpy, 4x4 matrices): the reference the scalar implementation in
dexscrew_sdk/kinematics.py is checked against (tests/teleop/test_kinematics_equivalence.py)."""

from __future__ import annotations

import numpy as np

from dexscrew_sdk.kinematics import UR5E_A, UR5E_ALPHA, UR5E_D


def _dh(theta: float, d: float, a: float, alpha: float) -> np.ndarray:
    ct, st, ca, sa = np.cos(theta), np.sin(theta), np.cos(alpha), np.sin(alpha)
    return np.array(
        [
            [ct, -st * ca, st * sa, a * ct],
            [st, ct * ca, -ct * sa, a * st],
            [0.0, sa, ca, d],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def _inv_rigid(t: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform (rotation + translation): cheaper and exact, unlike a general inverse."""
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


def link_frames(q_rad: np.ndarray) -> list[np.ndarray]:
    """Homogeneous transforms of the base, then each joint's frame, in the base frame."""
    frames = [np.eye(4)]
    t = np.eye(4)
    for i in range(6):
        t = t @ _dh(float(q_rad[i]), UR5E_D[i], UR5E_A[i], UR5E_ALPHA[i])
        frames.append(t)
    return frames


def pose_to_matrix(pose: np.ndarray) -> np.ndarray:
    """(x, y, z, rx, ry, rz) with a rotation vector -> 4x4 transform."""
    t = np.eye(4)
    t[:3, :3] = rotvec_to_matrix(np.asarray(pose[3:6], dtype=float))
    t[:3, 3] = pose[:3]
    return t


def matrix_to_pose(t: np.ndarray) -> np.ndarray:
    return np.concatenate([t[:3, 3], matrix_to_rotvec(t[:3, :3])])


def rotvec_to_matrix(rv: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(rv))
    if angle < 1e-12:
        return np.eye(3)
    k = rv / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def matrix_to_rotvec(r: np.ndarray) -> np.ndarray:
    cos = np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)
    angle = float(np.arccos(cos))
    if angle < 1e-9:
        return np.zeros(3)
    if np.pi - angle < 1e-6:
        # Near pi the antisymmetric part vanishes; use the diagonal instead.
        axis = np.sqrt(np.maximum((np.diag(r) + 1) / 2, 0.0))
        i = int(np.argmax(axis))
        axis[(i + 1) % 3] = np.copysign(axis[(i + 1) % 3], r[i, (i + 1) % 3])
        axis[(i + 2) % 3] = np.copysign(axis[(i + 2) % 3], r[i, (i + 2) % 3])
        return axis / np.linalg.norm(axis) * angle
    w = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return w / (2 * np.sin(angle)) * angle


def forward(q_rad: np.ndarray, tcp_offset: np.ndarray | None = None) -> np.ndarray:
    """TCP pose (x, y, z, rx, ry, rz) in the base frame; flange when no offset."""
    t = link_frames(q_rad)[-1]
    if tcp_offset is not None:
        t = t @ pose_to_matrix(tcp_offset)
    return matrix_to_pose(t)


def _wrap_near(q: np.ndarray, q_near: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray | None:
    """Each joint shifted by a multiple of 2 pi to lie closest to q_near within [lower, upper]; None if impossible."""
    k = np.round((q_near - q) / (2 * np.pi))
    out = q + 2 * np.pi * k
    for _ in range(2):  # at most one more wrap either way brings it inside +-2 pi limits
        out = np.where(out > upper, out - 2 * np.pi, out)
        out = np.where(out < lower, out + 2 * np.pi, out)
    if ((out < lower - 1e-9) | (out > upper + 1e-9)).any():
        return None
    return out


def _singular_theta6(t16: np.ndarray, t45: np.ndarray, hint: float) -> list[float]:
    """Wrist singular (wrist 1 and 3 parallel): theta6 is free within what the elbow can reach. Frame 4's
    squared distance from the shoulder is K + A cos(theta6) + B sin(theta6): keep the hint if it is
    reachable, else the two values that bring that distance to the nearest reachable one."""
    a2, a3, d6 = abs(UR5E_A[1]), abs(UR5E_A[2]), UR5E_D[5]

    def reach2(th6: float) -> float:
        p = (t16 @ np.linalg.inv(t45 @ _dh(th6, d6, 0.0, UR5E_ALPHA[5])))[:2, 3]
        return float(p @ p)

    f0, f1, f2 = reach2(0.0), reach2(np.pi / 2), reach2(np.pi)
    k, a = (f0 + f2) / 2, (f0 - f2) / 2
    b = f1 - k
    lo, hi = (a2 - a3) ** 2, (a2 + a3) ** 2
    at_hint = k + a * np.cos(hint) + b * np.sin(hint)
    if lo <= at_hint <= hi or np.hypot(a, b) < 1e-15:
        return [hint]
    phi = float(np.arctan2(b, a))
    dev = float(np.arccos(np.clip((np.clip(at_hint, lo, hi) - k) / np.hypot(a, b), -1.0, 1.0)))
    return [phi + dev, phi - dev]


def inverse_all(pose: np.ndarray, tcp_offset: np.ndarray | None = None, theta6_hint: float = 0.0) -> list[np.ndarray]:
    """Every closed-form joint solution (angles in (-pi, pi]) placing the TCP at `pose`; [] if unreachable.

    At the wrist singularity (wrist 1 and 3 aligned) theta6 is free: `theta6_hint` is used when the
    elbow can reach it, else the nearest values it can."""
    t = pose_to_matrix(np.asarray(pose, dtype=float))
    if tcp_offset is not None:
        t = t @ np.linalg.inv(pose_to_matrix(tcp_offset))
    d1, _, _, d4, d5, d6 = UR5E_D
    a2, a3 = UR5E_A[1], UR5E_A[2]
    p05 = t @ np.array([0.0, 0.0, -d6, 1.0])
    r = float(np.hypot(p05[0], p05[1]))
    if r < abs(d4):
        return []
    out: list[np.ndarray] = []
    t60 = _inv_rigid(t)
    for s1 in (1.0, -1.0):
        th1 = float(np.arctan2(p05[1], p05[0]) + s1 * np.arccos(np.clip(d4 / r, -1.0, 1.0)) + np.pi / 2)
        c1, si1 = np.cos(th1), np.sin(th1)
        c5 = (t[0, 3] * si1 - t[1, 3] * c1 - d4) / d6
        if abs(c5) > 1.0 + 1e-7:
            continue
        for s5 in (1.0, -1.0):
            th5 = s5 * float(np.arccos(np.clip(c5, -1.0, 1.0)))
            sg5 = 1.0 if np.sin(th5) >= 0 else -1.0  # both arguments carry sin(theta5): divide by its sign only
            y6, x6 = (-t60[1, 0] * si1 + t60[1, 1] * c1) * sg5, (t60[0, 0] * si1 - t60[0, 1] * c1) * sg5
            t01_inv = _inv_rigid(_dh(th1, d1, 0.0, UR5E_ALPHA[0]))
            t45 = _dh(th5, d5, 0.0, UR5E_ALPHA[4])

            if np.hypot(y6, x6) > 1e-9:
                th6s = [float(np.arctan2(y6, x6))]
            else:
                th6s = _singular_theta6(t01_inv @ t, t45, theta6_hint)
            for th6 in th6s:
                t14 = t01_inv @ t @ _inv_rigid(t45 @ _dh(th6, d6, 0.0, UR5E_ALPHA[5]))
                px, py = t14[0, 3], t14[1, 3]  # shoulder, elbow and wrist 1 move in frame 1's x/y plane
                dist2 = px * px + py * py
                c3 = (dist2 - a2 * a2 - a3 * a3) / (2 * a2 * a3)
                if abs(c3) > 1.0 + 1e-7:  # a stretched elbow sits on the boundary: allow rounding
                    continue
                for s3 in (1.0, -1.0):
                    th3 = s3 * float(np.arccos(np.clip(c3, -1.0, 1.0)))
                    th2 = float(np.arctan2(py, px) - np.arctan2(a3 * np.sin(th3), a2 + a3 * np.cos(th3)))
                    t13 = _dh(th2, 0.0, a2, 0.0) @ _dh(th3, 0.0, a3, 0.0)
                    t34 = _inv_rigid(t13) @ t14
                    th4 = float(np.arctan2(t34[1, 0], t34[0, 0]))
                    q = np.array([th1, th2, th3, th4, th5, th6])
                    out.append(np.arctan2(np.sin(q), np.cos(q)))
    return out


def inverse_nearest(
    pose: np.ndarray,
    q_near: np.ndarray,
    tcp_offset: np.ndarray | None = None,
    lower_rad: np.ndarray | None = None,
    upper_rad: np.ndarray | None = None,
    tol: float = 1e-6,
) -> np.ndarray | None:
    """The closed-form solution nearest q_near (Euclidean in joint space), inside the joint limits; None if none."""
    q_near = np.asarray(q_near, dtype=float)
    lo = np.full(6, -2 * np.pi) if lower_rad is None else np.asarray(lower_rad, dtype=float)
    hi = np.full(6, 2 * np.pi) if upper_rad is None else np.asarray(upper_rad, dtype=float)
    target = pose_to_matrix(np.asarray(pose, dtype=float))
    candidates = []
    for q in inverse_all(pose, tcp_offset, float(q_near[5])):
        wrapped = _wrap_near(q, q_near, lo, hi)
        if wrapped is not None:  # Euclidean: the max-norm ties near singular branches
            candidates.append((float(np.sum((wrapped - q_near) ** 2)), wrapped))
    offset = None if tcp_offset is None else pose_to_matrix(tcp_offset)
    for _, wrapped in sorted(candidates, key=lambda c: c[0]):  # nearest first: usually one check suffices
        t = link_frames(wrapped)[-1]
        if offset is not None:
            t = t @ offset
        if np.linalg.norm(t[:3, 3] - target[:3, 3]) > tol or np.linalg.norm(t[:3, :3] - target[:3, :3]) > 1e3 * tol:
            continue  # a branch that only satisfied the clipped equations (boundary of reach)
        return wrapped
    return None
