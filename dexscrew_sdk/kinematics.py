"""UR5e forward and inverse kinematics from its published DH parameters.

Used by the safety layer (workspace limits), the reference arm, the twins,
the UR controller emulator and teleoperation, so that all of them agree on
where the TCP is. `inverse_all` is the closed-form solution of the UR wrist
geometry (up to 8 branches); `inverse_nearest` picks the branch, and the
multiple of 2 pi per joint, closest to the current configuration.

Inside, a rigid transform is a tuple of 12 floats (the 3x4 rows of its
matrix) and the arithmetic is scalar `math`: every control step solves IK and
FK a few times, and numpy's per-call overhead on 4x4 arrays made one IK call
cost ~1 ms, about 10x the scalar form. The public functions take and return
numpy arrays as before (docs/recording.md, "Benchmark").
"""

from __future__ import annotations

import math

import numpy as np

# Standard DH (hardware.md).
UR5E_D = np.array([0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996])
UR5E_A = np.array([0.0, -0.425, -0.3922, 0.0, 0.0, 0.0])
UR5E_ALPHA = np.array([np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0])

Rigid = tuple[float, ...]  # (r00, r01, r02, x, r10, r11, r12, y, r20, r21, r22, z)

_D = tuple(float(v) for v in UR5E_D)
_A = tuple(float(v) for v in UR5E_A)
_CA = tuple(math.cos(float(v)) for v in UR5E_ALPHA)  # cos(pi/2) stays 6e-17, as in the matrix form
_SA = tuple(math.sin(float(v)) for v in UR5E_ALPHA)
_PI, _TWO_PI = math.pi, 2.0 * math.pi
_EYE: Rigid = (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _dh(theta: float, i: int) -> Rigid:
    """Joint i's DH transform at angle theta."""
    ct, st, ca, sa, a = math.cos(theta), math.sin(theta), _CA[i], _SA[i], _A[i]
    return (ct, -st * ca, st * sa, a * ct, st, ct * ca, -ct * sa, a * st, 0.0, sa, ca, _D[i])


def _mul(p: Rigid, q: Rigid) -> Rigid:
    p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11 = p
    q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11 = q
    return (
        p0 * q0 + p1 * q4 + p2 * q8,
        p0 * q1 + p1 * q5 + p2 * q9,
        p0 * q2 + p1 * q6 + p2 * q10,
        p0 * q3 + p1 * q7 + p2 * q11 + p3,
        p4 * q0 + p5 * q4 + p6 * q8,
        p4 * q1 + p5 * q5 + p6 * q9,
        p4 * q2 + p5 * q6 + p6 * q10,
        p4 * q3 + p5 * q7 + p6 * q11 + p7,
        p8 * q0 + p9 * q4 + p10 * q8,
        p8 * q1 + p9 * q5 + p10 * q9,
        p8 * q2 + p9 * q6 + p10 * q10,
        p8 * q3 + p9 * q7 + p10 * q11 + p11,
    )


def _inv(t: Rigid) -> Rigid:
    """Inverse of a rigid transform: the rotation transposed, exact (unlike a general inverse)."""
    r0, r1, r2, x, r3, r4, r5, y, r6, r7, r8, z = t
    return (
        r0, r3, r6, -(r0 * x + r3 * y + r6 * z),
        r1, r4, r7, -(r1 * x + r4 * y + r7 * z),
        r2, r5, r8, -(r2 * x + r5 * y + r8 * z),
    )  # fmt: skip


def _to_matrix(t: Rigid) -> np.ndarray:
    return np.array([t[0:4], t[4:8], t[8:12], (0.0, 0.0, 0.0, 1.0)])


def _from_matrix(m: np.ndarray) -> Rigid:
    rows = np.asarray(m, dtype=float)[:3, :4].tolist()
    return (*rows[0], *rows[1], *rows[2])


def _flange(q: list[float]) -> Rigid:
    t = _dh(q[0], 0)
    for i in range(1, 6):
        t = _mul(t, _dh(q[i], i))
    return t


def _rotvec_rot(rx: float, ry: float, rz: float) -> tuple[float, ...]:
    """Rotation vector -> row-major 3x3 (Rodrigues)."""
    angle = math.sqrt(rx * rx + ry * ry + rz * rz)
    if angle < 1e-12:
        return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    x, y, z = rx / angle, ry / angle, rz / angle
    s, c = math.sin(angle), 1.0 - math.cos(angle)
    xy, xz, yz = x * y, x * z, y * z
    return (
        1.0 + c * (-z * z - y * y), -s * z + c * xy, s * y + c * xz,
        s * z + c * xy, 1.0 + c * (-z * z - x * x), -s * x + c * yz,
        -s * y + c * xz, s * x + c * yz, 1.0 + c * (-y * y - x * x),
    )  # fmt: skip


def _pose_rigid(pose: list[float]) -> Rigid:
    r = _rotvec_rot(pose[3], pose[4], pose[5])
    return (r[0], r[1], r[2], pose[0], r[3], r[4], r[5], pose[1], r[6], r[7], r[8], pose[2])


def _rot_rotvec(r00: float, r01: float, r02: float, r10: float, r11: float, r12: float,
                r20: float, r21: float, r22: float) -> tuple[float, float, float]:  # fmt: skip
    cos = min(max((r00 + r11 + r22 - 1.0) / 2.0, -1.0), 1.0)
    angle = math.acos(cos)
    if angle < 1e-9:
        return (0.0, 0.0, 0.0)
    if _PI - angle < 1e-6:
        # Near pi the antisymmetric part vanishes; use the diagonal instead.
        axis = [math.sqrt(max((d + 1.0) / 2.0, 0.0)) for d in (r00, r11, r22)]
        i = axis.index(max(axis))
        row = ((r00, r01, r02), (r10, r11, r12), (r20, r21, r22))[i]
        j, k = (i + 1) % 3, (i + 2) % 3
        axis[j] = math.copysign(axis[j], row[j])
        axis[k] = math.copysign(axis[k], row[k])
        n = math.sqrt(axis[0] ** 2 + axis[1] ** 2 + axis[2] ** 2)
        return (axis[0] / n * angle, axis[1] / n * angle, axis[2] / n * angle)
    s2 = 2.0 * math.sin(angle)
    return ((r21 - r12) / s2 * angle, (r02 - r20) / s2 * angle, (r10 - r01) / s2 * angle)


def _rigid_pose(t: Rigid) -> np.ndarray:
    rv = _rot_rotvec(t[0], t[1], t[2], t[4], t[5], t[6], t[8], t[9], t[10])
    return np.array([t[3], t[7], t[11], *rv])


def _floats(v: object, n: int) -> list[float]:
    out = np.asarray(v, dtype=float).reshape(-1).tolist()
    if len(out) != n:
        raise ValueError(f"expected {n} numbers, got {len(out)}")
    return out


def link_frames(q_rad: np.ndarray) -> list[np.ndarray]:
    """Homogeneous transforms of the base, then each joint's frame, in the base frame."""
    q = _floats(q_rad, 6)
    t = _EYE
    frames = [np.eye(4)]
    for i in range(6):
        t = _mul(t, _dh(q[i], i))
        frames.append(_to_matrix(t))
    return frames


def pose_to_matrix(pose: np.ndarray) -> np.ndarray:
    """(x, y, z, rx, ry, rz) with a rotation vector -> 4x4 transform."""
    return _to_matrix(_pose_rigid(_floats(pose, 6)))


def matrix_to_pose(t: np.ndarray) -> np.ndarray:
    return _rigid_pose(_from_matrix(t))


def rotvec_to_matrix(rv: np.ndarray) -> np.ndarray:
    return np.array(_rotvec_rot(*_floats(rv, 3))).reshape(3, 3)


def matrix_to_rotvec(r: np.ndarray) -> np.ndarray:
    return np.array(_rot_rotvec(*np.asarray(r, dtype=float)[:3, :3].reshape(-1).tolist()))


def _tcp(q: list[float], offset: Rigid | None) -> Rigid:
    t = _flange(q)
    return t if offset is None else _mul(t, offset)


def forward(q_rad: np.ndarray, tcp_offset: np.ndarray | None = None) -> np.ndarray:
    """TCP pose (x, y, z, rx, ry, rz) in the base frame; flange when no offset."""
    offset = None if tcp_offset is None else _offset(tcp_offset)[0]
    return _rigid_pose(_tcp(_floats(q_rad, 6), offset))


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


def _wrap_near(q: list[float], q_near: list[float], lower: list[float], upper: list[float]) -> list[float] | None:
    """Each joint shifted by a multiple of 2 pi to lie closest to q_near within [lower, upper]; None if impossible."""
    out = []
    two_pi = _TWO_PI
    for v, near, lo, hi in zip(q, q_near, lower, upper, strict=True):
        w = v + two_pi * round((near - v) / two_pi)  # round half to even, as numpy's
        # at most one more wrap either way brings it inside +-2 pi limits (twice, unrolled)
        if w > hi:
            w -= two_pi
        if w < lo:
            w += two_pi
        if w > hi:
            w -= two_pi
        if w < lo:
            w += two_pi
        if w < lo - 1e-9 or w > hi + 1e-9:
            return None
        out.append(w)
    return out


def _singular_theta6(t16: Rigid, t45: Rigid, hint: float) -> list[float]:
    """Wrist singular (wrist 1 and 3 parallel): theta6 is free within what the elbow can reach. Frame 4's
    squared distance from the shoulder is K + A cos(theta6) + B sin(theta6): keep the hint if it is
    reachable, else the two values that bring that distance to the nearest reachable one."""
    a2, a3 = abs(_A[1]), abs(_A[2])

    def reach2(th6: float) -> float:
        p = _mul(t16, _inv(_mul(t45, _dh(th6, 5))))
        return p[3] * p[3] + p[7] * p[7]

    f0, f1, f2 = reach2(0.0), reach2(_PI / 2), reach2(_PI)
    k, a = (f0 + f2) / 2, (f0 - f2) / 2
    b = f1 - k
    lo, hi = (a2 - a3) ** 2, (a2 + a3) ** 2
    at_hint = k + a * math.cos(hint) + b * math.sin(hint)
    amp = math.hypot(a, b)
    if lo <= at_hint <= hi or amp < 1e-15:
        return [hint]
    phi = math.atan2(b, a)
    dev = math.acos(min(max((min(max(at_hint, lo), hi) - k) / amp, -1.0), 1.0))
    return [phi + dev, phi - dev]


def _clip1(v: float) -> float:
    return -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)


def _frame4(t16: Rigid, t46: Rigid) -> tuple[float, float, float, float, float]:
    """Of t14 = t16 @ inv(t46): its x axis and its x, y position, each computed as `_mul(t16, _inv(t46))`
    computes it (the same products in the same order), the rest skipped."""
    p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, _ = t16
    r0, r1, r2, x, r3, r4, r5, y, r6, r7, r8, z = t46
    q3, q7, q11 = -(r0 * x + r3 * y + r6 * z), -(r1 * x + r4 * y + r7 * z), -(r2 * x + r5 * y + r8 * z)
    return (
        p0 * r0 + p1 * r1 + p2 * r2,
        p4 * r0 + p5 * r1 + p6 * r2,
        p8 * r0 + p9 * r1 + p10 * r2,
        p0 * q3 + p1 * q7 + p2 * q11 + p3,
        p4 * q3 + p5 * q7 + p6 * q11 + p7,
    )


def _frame3_x(t12: Rigid, t23: Rigid, x14: float, y14: float, z14: float) -> tuple[float, float]:
    """cos and sin of theta4: frame 4's x axis (x14, y14, z14) dotted with the first two columns of
    t13 = t12 @ t23 (those columns computed as `_mul` computes them)."""
    p0, p1, p2, _, p4, p5, p6, _, p8, p9, p10, _ = t12
    q0, q1, _, _, q4, q5, _, _, q8, q9, _, _ = t23
    a0, a1 = p0 * q0 + p1 * q4 + p2 * q8, p0 * q1 + p1 * q5 + p2 * q9
    a4, a5 = p4 * q0 + p5 * q4 + p6 * q8, p4 * q1 + p5 * q5 + p6 * q9
    a8, a9 = p8 * q0 + p9 * q4 + p10 * q8, p8 * q1 + p9 * q5 + p10 * q9
    return a0 * x14 + a4 * y14 + a8 * z14, a1 * x14 + a5 * y14 + a9 * z14


def _solutions(t: Rigid, theta6_hint: float) -> list[list[float]]:
    """Every closed-form solution for the flange transform t (angles in (-pi, pi])."""
    d4, d6 = _D[3], _D[5]
    a2, a3 = _A[1], _A[2]
    p05x, p05y = t[2] * -d6 + t[3], t[6] * -d6 + t[7]  # frame 5's origin: d6 back along the flange z
    r = math.hypot(p05x, p05y)
    if r < abs(d4):
        return []
    out: list[list[float]] = []
    t60 = _inv(t)
    atan2, sin, cos = math.atan2, math.sin, math.cos
    for s1 in (1.0, -1.0):
        th1 = math.atan2(p05y, p05x) + s1 * math.acos(_clip1(d4 / r)) + _PI / 2
        c1, si1 = math.cos(th1), math.sin(th1)
        c5 = (t[3] * si1 - t[7] * c1 - d4) / d6
        if abs(c5) > 1.0 + 1e-7:
            continue
        t16 = _mul(_inv(_dh(th1, 0)), t)
        for s5 in (1.0, -1.0):
            th5 = s5 * math.acos(_clip1(c5))
            sg5 = 1.0 if math.sin(th5) >= 0 else -1.0  # both arguments carry sin(theta5): divide by its sign only
            y6, x6 = (-t60[4] * si1 + t60[5] * c1) * sg5, (t60[0] * si1 - t60[1] * c1) * sg5
            t45 = _dh(th5, 4)
            th6s = [math.atan2(y6, x6)] if math.hypot(y6, x6) > 1e-9 else _singular_theta6(t16, t45, theta6_hint)
            for th6 in th6s:
                x14, y14, z14, px, py = _frame4(t16, _mul(t45, _dh(th6, 5)))
                # shoulder, elbow and wrist 1 move in frame 1's x/y plane
                c3 = (px * px + py * py - a2 * a2 - a3 * a3) / (2 * a2 * a3)
                if abs(c3) > 1.0 + 1e-7:  # a stretched elbow sits on the boundary: allow rounding
                    continue
                for s3 in (1.0, -1.0):
                    th3 = s3 * math.acos(_clip1(c3))
                    th2 = math.atan2(py, px) - math.atan2(a3 * math.sin(th3), a2 + a3 * math.cos(th3))
                    # frame 4's x axis seen from frame 3: the first column of inv(t13) @ t14
                    c34, s34 = _frame3_x(_dh(th2, 1), _dh(th3, 2), x14, y14, z14)
                    th4 = math.atan2(s34, c34)
                    out.append([atan2(sin(v), cos(v)) for v in (th1, th2, th3, th4, th5, th6)])  # into (-pi, pi]
    return out


_OFFSETS: dict[tuple[float, ...], tuple[Rigid, Rigid]] = {}  # tool offset -> (it, its inverse): a few per process


def _offset(tcp_offset: object) -> tuple[Rigid, Rigid]:
    """A TCP offset pose as a rigid transform and its inverse (each control step reuses the same one)."""
    key = tuple(_floats(tcp_offset, 6))
    cached = _OFFSETS.get(key)
    if cached is None:
        if len(_OFFSETS) > 64:
            _OFFSETS.clear()
        offset = _pose_rigid(list(key))
        cached = _OFFSETS[key] = (offset, _inv(offset))
    return cached


def _flange_target(pose: object, tcp_offset: np.ndarray | None) -> tuple[Rigid, Rigid, Rigid | None]:
    """(the TCP target, the flange target, the offset) as rigid transforms."""
    target = _pose_rigid(_floats(pose, 6))
    if tcp_offset is None:
        return target, target, None
    offset, inverse = _offset(tcp_offset)
    return target, _mul(target, inverse), offset


def inverse_all(pose: np.ndarray, tcp_offset: np.ndarray | None = None, theta6_hint: float = 0.0) -> list[np.ndarray]:
    """Every closed-form joint solution (angles in (-pi, pi]) placing the TCP at `pose`; [] if unreachable.

    At the wrist singularity (wrist 1 and 3 aligned) theta6 is free: `theta6_hint` is used when the
    elbow can reach it, else the nearest values it can."""
    _, flange, _ = _flange_target(pose, tcp_offset)
    return [np.array(q) for q in _solutions(flange, float(theta6_hint))]


def inverse_nearest(
    pose: np.ndarray,
    q_near: np.ndarray,
    tcp_offset: np.ndarray | None = None,
    lower_rad: np.ndarray | None = None,
    upper_rad: np.ndarray | None = None,
    tol: float = 1e-6,
) -> np.ndarray | None:
    """The closed-form solution nearest q_near (Euclidean in joint space), inside the joint limits; None if none."""
    near = _floats(q_near, 6)
    lo = [-_TWO_PI] * 6 if lower_rad is None else _floats(lower_rad, 6)
    hi = [_TWO_PI] * 6 if upper_rad is None else _floats(upper_rad, 6)
    target, flange, offset = _flange_target(pose, tcp_offset)
    candidates = []
    for q in _solutions(flange, near[5]):
        wrapped = _wrap_near(q, near, lo, hi)
        if wrapped is not None:  # Euclidean: the max-norm ties near singular branches
            cost = 0.0
            for w, n in zip(wrapped, near, strict=True):
                cost += (w - n) * (w - n)
            candidates.append((cost, wrapped))
    for _, wrapped in sorted(candidates, key=lambda c: c[0]):  # nearest first: usually one check suffices
        t = _tcp(wrapped, offset)
        dp = math.sqrt(sum((t[i] - target[i]) ** 2 for i in (3, 7, 11)))
        dr = math.sqrt(sum((t[i] - target[i]) ** 2 for i in (0, 1, 2, 4, 5, 6, 8, 9, 10)))
        if dp > tol or dr > 1e3 * tol:
            continue  # a branch that only satisfied the clipped equations (boundary of reach)
        return np.array(wrapped)
    return None
