"""Multi-rate alignment by timestamp: each step takes every source's latest sample AT OR BEFORE
the step time (never the latest to arrive); a sample older than one control period is late,
no sample at all is missing. Nothing is interpolated or padded.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexscrew_sdk.recording.errors import StepRecordError


@dataclass(frozen=True)
class AlignedSample:
    value: Any  # None when missing
    stamp_ns: int  # 0 when missing
    seq: int  # -1 when missing
    late: bool
    missing: bool


class Aligner:
    """Per-source buffers of recent samples, kept in stamp order whatever order they arrive in."""

    def __init__(self, period_s: float, capacity: int = 256) -> None:
        if not period_s > 0:
            raise StepRecordError(f"Aligner period_s must be positive, got {period_s!r}")
        if capacity < 1:
            raise StepRecordError(f"Aligner capacity must be >= 1, got {capacity!r}")
        self.period_ns = round(period_s * 1e9)
        self.capacity = capacity
        self._stamps: dict[str, list[int]] = {}
        self._items: dict[str, list[tuple[int, Any]]] = {}

    def push(self, source: str, stamp_ns: int, seq: int, value: Any) -> None:
        stamps = self._stamps.setdefault(source, [])
        items = self._items.setdefault(source, [])
        at = bisect.bisect_right(stamps, int(stamp_ns))
        stamps.insert(at, int(stamp_ns))
        items.insert(at, (int(seq), value))
        if len(stamps) > self.capacity:  # drop the oldest
            del stamps[0], items[0]

    def at(self, source: str, t_ns: int) -> AlignedSample:
        stamps = self._stamps.get(source, [])
        i = bisect.bisect_right(stamps, int(t_ns)) - 1
        if i < 0:
            return AlignedSample(None, 0, -1, late=False, missing=True)
        seq, value = self._items[source][i]
        return AlignedSample(value, stamps[i], seq, late=int(t_ns) - stamps[i] > self.period_ns, missing=False)


def align_stamps(
    sample_stamps_ns: np.ndarray, step_stamps_ns: np.ndarray, period_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offline alignment of one source: (index of the sample per step or -1, late mask, missing mask).

    `sample_stamps_ns` need not be sorted; indices refer to its original order.
    """
    samples = np.asarray(sample_stamps_ns, dtype=np.int64)
    steps = np.asarray(step_stamps_ns, dtype=np.int64)
    order = np.argsort(samples, kind="stable")
    pos = np.searchsorted(samples[order], steps, side="right") - 1
    missing = pos < 0
    idx = np.where(missing, -1, order[np.clip(pos, 0, None)]) if samples.size else np.full(steps.shape, -1)
    age = np.where(missing, 0, steps - samples[np.clip(idx, 0, None)]) if samples.size else np.zeros(steps.shape)
    late = ~missing & (age > period_ns)
    return idx.astype(np.int64), late, missing
