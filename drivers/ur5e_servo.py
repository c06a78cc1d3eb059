"""The UR5e driver's servo thread: application targets, interpolated, one servoJ per controller cycle.

`Arm.servo()` is called at the application's rate (20 Hz); the controller
expects a servoJ every cycle (2 ms on e-Series) with a matching `time`. This
thread runs `ServoInterpolator` at the controller rate on absolute deadlines
(a late cycle is skipped, never bunched), so the controller receives bounded
steps and accelerations. Errors are kept for the application thread, which
raises them on its next servo().
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from dexscrew_sdk.servo_interpolation import ServoInterpolator


class ServoStream:
    def __init__(
        self,
        send: Callable[[list[float]], object],
        period_s: float,
        interpolator: ServoInterpolator,
    ) -> None:
        self._send, self.period_s, self._interp = send, float(period_s), interpolator
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.refused = False
        self.cycles = 0
        self.skipped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="ur5e-servo")
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    @property
    def settled(self) -> bool:
        """The stream has reached the newest target and stands still there."""
        with self._lock:
            return self._interp.settled

    def push(self, q_rad: np.ndarray) -> None:
        with self._lock:
            self._interp.push(q_rad, time.monotonic())

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                q = self._interp.next(self.period_s)
            try:
                if self._send(q.tolist()) is False:
                    self.refused = True  # the control script stopped (protective stop, stopScript ...)
                    return
            except RuntimeError as exc:
                self.error = exc
                return
            self.cycles += 1
            deadline += self.period_s
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -self.period_s:  # fell a whole cycle behind (a loaded host): resume, do not burst
                self.skipped += 1
                deadline = time.monotonic()
