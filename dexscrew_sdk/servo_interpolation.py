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
        """The setpoint one servo period (dt_s) later."""
        self._elapsed_s += dt_s
        s = min(1.0, self._elapsed_s / self.period_s)
        along = self.start + (self.goal - self.start) * s
        v = (along - self.q) / dt_s
        peak = float(np.max(np.abs(v) / self.max_speed))
        if peak > 1.0:
            v = v / peak  # the whole vector: the setpoint stays on the segment
        to_goal = self.goal - self.q  # brake so that a target that stops moving is not overshot
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
            self.q, self.v = self.goal.copy(), np.zeros_like(v)  # landed: hold exactly
        return self.q.copy()
