"""UR5e forward and inverse kinematics from its published DH parameters.

Used by the safety layer (workspace limits), the reference arm, the twins and
the UR controller emulator, so that all of them agree on where the TCP is.
"""

from __future__ import annotations

import numpy as np

# Standard DH (hardware.md).
UR5E_D = np.array([0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996])
UR5E_A = np.array([0.0, -0.425, -0.3922, 0.0, 0.0, 0.0])
UR5E_ALPHA = np.array([np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0])


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


def jacobian(q_rad: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Numerical 6x6 Jacobian of the flange pose (position, small-angle rotation)."""
    t0 = link_frames(q_rad)[-1]
    jac = np.zeros((6, 6))
    for i in range(6):
        dq = np.array(q_rad, dtype=float)
        dq[i] += eps
        t1 = link_frames(dq)[-1]
        jac[:3, i] = (t1[:3, 3] - t0[:3, 3]) / eps
        jac[3:, i] = matrix_to_rotvec(t1[:3, :3] @ t0[:3, :3].T) / eps
    return jac


def inverse(
    pose: np.ndarray,
    q_near: np.ndarray,
    tcp_offset: np.ndarray | None = None,
    iterations: int = 200,
    tol: float = 1e-6,
) -> np.ndarray | None:
    """Damped least-squares IK from q_near; None when it does not converge."""
    target = pose_to_matrix(np.asarray(pose, dtype=float))
    if tcp_offset is not None:
        target = target @ np.linalg.inv(pose_to_matrix(tcp_offset))
    q = np.array(q_near, dtype=float)
    for _ in range(iterations):
        t = link_frames(q)[-1]
        err = np.concatenate([target[:3, 3] - t[:3, 3], matrix_to_rotvec(target[:3, :3] @ t[:3, :3].T)])
        if np.linalg.norm(err) < tol:
            return q
        jac = jacobian(q)
        step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-6 * np.eye(6), err)
        norm = float(np.linalg.norm(step))
        q = q + (step if norm < 0.5 else step * (0.5 / norm))  # bounded steps near singularities
    return None
