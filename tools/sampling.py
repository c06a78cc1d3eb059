"""Collect a fixed number of fresh samples from a cell, paced by the cell's own clock."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dexscrew_sdk.cell import Cell


def collect(cell: Cell, read: Callable[[], tuple[int, np.ndarray]], count: int) -> np.ndarray:
    """`count` samples with distinct sequence numbers (`read` returns (seq, array)), stacked."""
    samples: list[np.ndarray] = []
    last_seq = None
    while len(samples) < count:
        seq, value = read()
        if seq != last_seq:
            samples.append(np.array(value, dtype=np.float64))
            last_seq = seq
        cell.clock.wait()
    return np.stack(samples)
