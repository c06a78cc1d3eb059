"""Pacing of control loops: wall-clock real time, or lockstep with simulated nodes.

Application loops call `clock.wait()` once per control period and never sleep
themselves, so the same code runs in real time against hardware and, in
lockstep, faster than real time and deterministically against twins.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dexscrew_sdk.skills.layout import CONTROL_HZ

if TYPE_CHECKING:
    from dexscrew_sdk.remote import NodeClient

CONTROL_PERIOD_S = 1.0 / CONTROL_HZ  # 50 ms: skills, teleop, recording and the twins' control update
__all__ = ["CONTROL_HZ", "CONTROL_PERIOD_S", "Clock", "JitterStats", "LockstepClock", "RealTimeClock"]


@dataclass(frozen=True)
class JitterStats:
    periods: int
    achieved_hz: float
    jitter_p50_us: float
    jitter_p99_us: float
    jitter_max_us: float
    overruns: int


class Clock(ABC):
    def __init__(self, period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"clock period must be positive, got {period_s}")
        self.period_s = period_s

    @abstractmethod
    def wait(self) -> None:
        """Return when the next control period starts."""

    @abstractmethod
    def now(self) -> float:
        """Seconds on this clock's time base (wall or simulated)."""

    def ticks(self, n: int) -> Iterator[int]:
        for i in range(n):
            yield i
            self.wait()


class RealTimeClock(Clock):
    """Absolute-deadline rate loop (no drift) that records its period jitter."""

    def __init__(self, period_s: float, spin_s: float = 0.0002) -> None:
        super().__init__(period_s)
        self.spin_s = spin_s
        self._start = time.monotonic()
        self._deadline = self._start + period_s
        self._last = self._start
        self._periods: list[float] = []
        self.overruns = 0

    def now(self) -> float:
        return time.monotonic() - self._start

    def wait(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while time.monotonic() < self._deadline:  # short spin for sub-100 us accuracy
            pass
        now = time.monotonic()
        self._periods.append(now - self._last)
        self._last = now
        self._deadline += self.period_s
        if now > self._deadline:  # fell a whole period behind: skip, do not burst
            self.overruns += 1
            self._deadline = now + self.period_s

    def stats(self) -> JitterStats:
        p = np.asarray(self._periods)
        if p.size == 0:
            return JitterStats(0, 0.0, 0.0, 0.0, 0.0, self.overruns)
        jitter = np.abs(p - self.period_s) * 1e6
        return JitterStats(
            int(p.size),
            float(1.0 / p.mean()),
            float(np.percentile(jitter, 50)),
            float(np.percentile(jitter, 99)),
            float(jitter.max()),
            self.overruns,
        )


class LockstepClock(Clock):
    """Each wait() advances every lockstep node exactly one control period.

    It returns only once the states published by that tick have arrived, so
    the next `state()` read sees the post-tick world: deterministic for a seed.
    """

    def __init__(self, period_s: float, nodes: list[NodeClient], timeout_s: float = 10.0) -> None:
        super().__init__(period_s)
        self.nodes = nodes
        self.timeout_s = timeout_s
        self._time_s = 0.0

    def now(self) -> float:
        return self._time_s

    def wait(self) -> None:
        for node in self.nodes:
            # Commands and ticks travel on different sockets: name the commands this tick must follow.
            args = {"periods": 1, "after": dict(node.sent_seq)}
            reply = node.call("", "tick", args, timeout_s=self.timeout_s)  # waits for the tick's states
            self._time_s = float(reply["sim_time_s"])
