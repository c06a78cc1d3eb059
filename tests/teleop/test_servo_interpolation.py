"""The servo interpolator: bounded steps and accelerations whatever the targets, one period of latency."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk.servo_interpolation import ServoInterpolator

DT, APP = 0.002, 0.05
V_MAX = np.full(6, np.pi)
targets = st.lists(hnp.arrays(np.float64, 6, elements=st.floats(-0.05, 0.05)), min_size=2, max_size=30)


def _run(deltas: list[np.ndarray], a_max: float = 20.0, tail_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    it = ServoInterpolator(np.zeros(6), V_MAX, a_max)
    q_app, out, t = np.zeros(6), [], 0.0
    per_app = round(APP / DT)
    for d in deltas:
        q_app = q_app + d
        it.push(q_app, t)
        for _ in range(per_app):
            out.append(it.next(DT))
            t += DT
    for _ in range(round(tail_s / DT)):
        out.append(it.next(DT))
    return np.asarray(out), q_app


@settings(max_examples=30, deadline=None)
@given(deltas=targets)
def test_steps_and_accelerations_are_bounded_and_the_last_target_is_reached(deltas: list[np.ndarray]) -> None:
    q, final = _run(deltas)
    stream = np.vstack([np.zeros(6), q])
    assert np.abs(np.diff(stream, axis=0)).max() <= np.pi * DT + 1e-12
    v = np.diff(np.vstack([np.zeros(6), stream]), axis=0) / DT
    assert np.abs(np.diff(v, axis=0)).max() / DT <= 20.0 * (1 + 1e-9)
    np.testing.assert_allclose(q[-1], final, atol=1e-9)  # lands on the last target and holds it


def test_a_steady_ramp_is_followed_one_application_period_late() -> None:
    rate = np.array([0.2, -0.1, 0.0, 0.3, 0.0, 0.1])  # rad/s, within every limit
    q, _ = _run([rate * APP] * 40, tail_s=0.0)
    t = (np.arange(len(q)) + 1) * DT
    # target k, sent at k x APP, is the ramp's value at (k + 1) x APP: reached one period after it was sent
    expected = t[:, None] * rate
    late = t > 0.5  # after the start-up transient
    assert np.abs(q[late] - expected[late]).max() < 2e-3


def test_a_jump_larger_than_one_period_can_cover_is_speed_limited_not_passed_through() -> None:
    q, final = _run([np.full(6, 1.0)], tail_s=2.0)
    assert np.abs(np.diff(q, axis=0)).max() <= np.pi * DT + 1e-12
    np.testing.assert_allclose(q[-1], final, atol=1e-9)


class _Vectorised(ServoInterpolator):
    """The interpolation law written with numpy arrays: the reference `next` must equal bit for bit."""

    def next(self, dt_s: float) -> np.ndarray:
        self._elapsed_s += dt_s
        s = min(1.0, self._elapsed_s / self.period_s)
        along = self.start + (self.goal - self.start) * s
        v = (along - self.q) / dt_s
        peak = float(np.max(np.abs(v) / self.max_speed))
        if peak > 1.0:
            v = v / peak
        to_goal = self.goal - self.q
        brake = np.sqrt(2.0 * self.max_accel * np.abs(to_goal))
        towards = np.sign(v) == np.sign(to_goal)
        v = np.where(towards & (np.abs(v) > brake), np.sign(v) * brake, v)
        dv = v - self.v
        peak_a = float(np.max(np.abs(dv))) / (self.max_accel * dt_s)
        if peak_a > 1.0:
            v = self.v + dv / peak_a
        self.q = self.q + v * dt_s
        self.v = v
        if s >= 1.0 and float(np.max(np.abs(self.goal - self.q))) < 1e-9 and float(np.max(np.abs(v))) < 1e-6:
            self.q, self.v = self.goal.copy(), np.zeros_like(v)
        return self.q.copy()


# a push: (target offset from the last one, servo steps until the next push); offsets from tiny (landing,
# braking) to far beyond a period's reach (speed and acceleration limits), exact repeats included
pushes = st.lists(
    st.tuples(
        hnp.arrays(np.float64, 6, elements=st.one_of(st.just(0.0), st.floats(-2.0, 2.0), st.floats(-1e-7, 1e-7))),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(
    pushes=pushes,
    q0=hnp.arrays(np.float64, 6, elements=st.floats(-3.0, 3.0)),
    v_max=hnp.arrays(np.float64, 6, elements=st.floats(0.1, 4.0)),
    a_max=st.floats(0.5, 50.0),
    dt=st.sampled_from([0.002, 0.005, 0.0123]),
)
def test_next_equals_the_vectorised_law_bit_for_bit(
    pushes: list[tuple[np.ndarray, int]], q0: np.ndarray, v_max: np.ndarray, a_max: float, dt: float
) -> None:
    fast, ref = ServoInterpolator(q0, v_max, a_max), _Vectorised(q0, v_max, a_max)
    target, t = q0.copy(), 0.0
    for offset, steps in pushes:
        target = target + offset
        fast.push(target, t)
        ref.push(target, t)
        for _ in range(steps):
            a, b = fast.next(dt), ref.next(dt)
            assert a.tobytes() == b.tobytes()
            assert fast.v.tobytes() == ref.v.tobytes() and fast.q.dtype == ref.q.dtype == np.float64
            t += dt
        assert fast.settled == ref.settled
