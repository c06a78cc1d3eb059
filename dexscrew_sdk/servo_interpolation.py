"""Application joint targets (e.g. 20 Hz) -> a smooth servo stream (500 Hz driver, 200 Hz twin physics).

Sending each application target straight to a 500 Hz servo loop hands the
controller a jump every application period and nothing in between. Instead,
each new target starts a straight segment from the current setpoint that
reaches the target one measured application period later (the latency this
adds: at most one application period), and the setpoint follows that segment
with bounded speed and acceleration, braking so it lands on a target that
stops moving. Every step is at most `max_speed x dt` and every change of
speed at most `max_accel x dt`, by construction, whatever the timing of the
caller. The UR5e driver runs it in its own servo thread; simulated arms run it
in their simulation step, so twin and real trajectories match.
"""

from __future__ import annotations

import math

import numpy as np

from dexscrew_sdk.clock import CONTROL_PERIOD_S

DEFAULT_MAX_ACCEL_RAD_S2 = 20.0  # per joint; the application's own limits are lower (wrist control: 8)
DEFAULT_APP_PERIOD_S = CONTROL_PERIOD_S  # until two targets have arrived: the SDK's control rate
MAX_APP_PERIOD_S = 0.2  # a longer gap is a pause, not a slower rate


class ServoInterpolator:
    """`push(q, t_s)` when an application target arrives; `next(dt_s)` once per servo period."""

    def __init__(
        self,
        q0_rad: np.ndarray,
        max_speed_rad_s: np.ndarray,
        max_accel_rad_s2: float = DEFAULT_MAX_ACCEL_RAD_S2,
        app_period_s: float = DEFAULT_APP_PERIOD_S,
    ) -> None:
        if not max_accel_rad_s2 > 0 or not app_period_s > 0:
            raise ValueError("ServoInterpolator: max_accel_rad_s2 and app_period_s must be positive")
        self.max_speed = np.asarray(max_speed_rad_s, dtype=float)
        self.max_accel = float(max_accel_rad_s2)
        self.default_period_s = float(app_period_s)
        self.reset(q0_rad)
        self._max_speed = np.broadcast_to(self.max_speed, self.q.shape).tolist()  # per joint, for next()

    def reset(self, q_rad: np.ndarray) -> None:
        """At rest at q (start, after a stop or a move)."""
        self.q = np.asarray(q_rad, dtype=float).copy()
        self.v = np.zeros_like(self.q)
        self.start, self.goal = self.q.copy(), self.q.copy()
        self.period_s = self.default_period_s
        self._elapsed_s = 0.0
        self._last_push_s: float | None = None

    def push(self, q_rad: np.ndarray, t_s: float) -> None:
        """A new application target, arriving at time t_s (the caller's clock)."""
        if self._last_push_s is not None:
            gap = t_s - self._last_push_s
            if 0.0 < gap <= MAX_APP_PERIOD_S:
                self.period_s = 0.7 * self.period_s + 0.3 * gap  # follows a rate change within a few targets
        self._last_push_s = t_s
        self.start, self.goal = self.q.copy(), np.asarray(q_rad, dtype=float).copy()
        self._elapsed_s = 0.0

    @property
    def settled(self) -> bool:
        return bool(np.array_equal(self.q, self.goal) and not self.v.any())

    def next(self, dt_s: float) -> np.ndarray:
        """The setpoint one servo period (dt_s) later.

        Per joint in plain floats: on six joints each numpy call costs more than its arithmetic (20 us a
        call against 6), and the twin runs this every physics step. Every operation is the same IEEE
        one, in the same order, as the law written with numpy arrays (its tests): equal bit for bit."""
        self._elapsed_s += dt_s
        s = min(1.0, self._elapsed_s / self.period_s)
        q, v0, start, goal = self.q.tolist(), self.v.tolist(), self.start.tolist(), self.goal.tolist()
        v = [(a + (g - a) * s - x) / dt_s for a, g, x in zip(start, goal, q, strict=True)]
        peak = max([abs(x) / m for x, m in zip(v, self._max_speed, strict=True)])
        if peak > 1.0:
            v = [x / peak for x in v]  # the whole vector: the setpoint stays on the segment
        accel2 = 2.0 * self.max_accel
        # brake so that a target that stops moving is not overshot
        for i, (x, g, p) in enumerate(zip(v, goal, q, strict=True)):
            to_goal = g - p
            towards = (x > 0.0 and to_goal > 0.0) or (x < 0.0 and to_goal < 0.0)
            if towards and abs(x) > (brake := math.sqrt(accel2 * abs(to_goal))):
                v[i] = brake if x > 0.0 else -brake
        dv = [x - y for x, y in zip(v, v0, strict=True)]
        peak_a = max([abs(d) for d in dv]) / (self.max_accel * dt_s)
        if peak_a > 1.0:
            v = [y + d / peak_a for y, d in zip(v0, dv, strict=True)]
        q = [p + x * dt_s for p, x in zip(q, v, strict=True)]
        if s >= 1.0 and _landed(goal, q, v):
            self.q, self.v = self.goal.copy(), np.zeros(len(v))  # landed: hold exactly
        else:
            self.q, self.v = np.array(q), np.array(v)
        return self.q.copy()


def _landed(goal: list[float], q: list[float], v: list[float]) -> bool:
    return max([abs(g - p) for g, p in zip(goal, q, strict=True)]) < 1e-9 and max([abs(x) for x in v]) < 1e-6
