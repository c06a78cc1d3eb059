"""Turning predicted chunks into one action per control step, against the cell's clock.

A chunk predicted from the observation of step s holds actions for steps s, s+1, ...,
s+H-1. The executor is asked for the action of the step it is now on the clock
(simulated time in lockstep, so a lockstep run never depends on inference speed);
actions whose step has already passed are stale and are dropped, never replayed.

- "chunk": execute `execute` (n) of H steps, then re-plan (method.md: 8 of 16).
- "ensemble": plan every step and average every live chunk's action for this step with
  ACT's weights w_i = exp(-k i), i = 0 the oldest prediction (k > 0 favours older
  chunks, k < 0 newer). Live chunks are tracked explicitly (never by `action != 0`,
  ACT's pitfall: a legitimate 0 rad target would count as "not populated").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from policies.bc.layout import BCError

MODES = ("chunk", "ensemble")


@dataclass
class ExecutorStats:
    plans: int = 0
    stale_dropped: int = 0  # chunk actions skipped because their step had passed
    empty_steps: int = 0  # steps with no valid action (the previous targets were held)


class ChunkExecutor:
    def __init__(self, horizon: int, mode: str = "chunk", execute: int = 8, k: float = 0.01) -> None:
        if mode not in MODES:
            raise BCError(f"execution mode must be one of {MODES}, got {mode!r}")
        if mode == "chunk" and not 1 <= execute <= horizon:
            raise BCError(f"execute n must be in [1, H={horizon}], got {execute}")
        if not np.isfinite(k):
            raise BCError(f"ensemble k must be finite, got {k}")
        self.horizon, self.mode, self.execute, self.k = horizon, mode, execute, k
        self.chunks: deque[tuple[int, np.ndarray]] = deque()  # (first step, (H, D)), oldest first
        self._last_used: int | None = None  # chunk mode: the step of the last action taken
        self._new: int | None = None  # ensemble mode: first step of a chunk not used yet
        self.stats = ExecutorStats()

    def needs_plan(self, step: int) -> bool:
        if self.mode == "ensemble" or not self.chunks:
            return True
        start, _ = self.chunks[-1]
        return step - start >= self.execute

    def add(self, chunk: np.ndarray, step: int) -> None:
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[0] != self.horizon or not np.isfinite(chunk).all():
            raise BCError(f"a chunk must be ({self.horizon}, D) finite values, got shape {chunk.shape}")
        self.stats.plans += 1
        if self.mode == "chunk":
            self.chunks.clear()
            self._last_used = step - 1
        else:
            self._new = int(step)
        self.chunks.append((int(step), chunk))

    def action(self, step: int) -> np.ndarray | None:
        """The action for `step` (the clock's current step), or None: hold the previous targets."""
        while self.chunks and self.chunks[0][0] + self.horizon <= step:
            self.chunks.popleft()  # every action of it is in the past
        if self.mode == "chunk":
            return self._chunk_action(step)
        if self._new is not None and step >= self._new:
            self.stats.stale_dropped += step - self._new  # inference outlasted a period: those actions passed
            self._new = None
        live = [(s, c) for s, c in self.chunks if s <= step]
        if not live:
            self.stats.empty_steps += 1
            return None
        w = np.exp(-self.k * np.arange(len(live)))  # i = 0: the oldest chunk
        acts = np.stack([c[step - s] for s, c in live])
        return (w[:, None] * acts).sum(axis=0) / w.sum()

    def _chunk_action(self, step: int) -> np.ndarray | None:
        if not self.chunks:
            self.stats.empty_steps += 1
            return None
        start, chunk = self.chunks[-1]
        i = step - start
        if self._last_used is not None:
            self.stats.stale_dropped += max(0, step - self._last_used - 1)  # steps the loop never got to
        self._last_used = step
        if not 0 <= i < self.horizon:
            self.stats.empty_steps += 1
            return None
        return chunk[i]
