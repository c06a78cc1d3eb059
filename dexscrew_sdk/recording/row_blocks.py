"""An episode's step rows in memory, in fixed-size blocks that are reused from one episode to the next.

The writer keeps each row it logs (so finishing an ended episode does not read its log back). Kept
as one bytes object per row, joined at the end and split into one array per field, finishing a
2-minute episode (18 MB) first-touched twice that much fresh memory, which took up to 217 ms in a
process's first episodes (docs/recording.md). Here rows go straight into blocks of BLOCK_ROWS rows;
an episode's blocks return to the recorder's pool once its file is written, so after the first
episodes no memory is new, and the memory the first ones need is touched a row at a time while
they are recorded, never all at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

BLOCK_ROWS = 128  # about 1 MB of rows with tactile: the unit the episode file is written in
POOL_KEEP_BYTES = 64 << 20  # what the pool holds on to between episodes (two 2-minute episodes fit)


class BlockPool:
    """Free row blocks shared by the control thread (takes) and the finaliser (gives back)."""

    def __init__(self, dtype: np.dtype, block_rows: int = BLOCK_ROWS, keep_bytes: int = POOL_KEEP_BYTES) -> None:
        if block_rows < 1:
            raise ValueError(f"block_rows must be at least 1, got {block_rows}")
        self.dtype = np.dtype(dtype)
        self.block_rows = int(block_rows)
        self._keep = max(0, int(keep_bytes) // max(1, self.block_rows * self.dtype.itemsize))
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.allocated = 0  # blocks ever made new (the rest were reused)

    @property
    def n_free(self) -> int:
        return len(self._free)

    def take(self) -> np.ndarray:
        with self._lock:
            if self._free:
                return self._free.pop()
            self.allocated += 1
        return np.empty(self.block_rows, self.dtype)

    def give(self, blocks: list[np.ndarray]) -> None:
        with self._lock:
            room = self._keep - len(self._free)
            self._free.extend(blocks[: max(0, room)])


class RowBlocks:
    """Rows appended one at a time; read back per field (`rows["q_rad"]`) or block by block."""

    def __init__(self, pool: BlockPool) -> None:
        self._pool = pool
        self._blocks: list[np.ndarray] = []
        self._n = 0

    @property
    def dtype(self) -> np.dtype:
        return self._pool.dtype

    def __len__(self) -> int:
        return self._n

    def append(self, row: np.ndarray) -> None:
        """Copy one row (a structured array of one element, or its scalar) of the pool's dtype."""
        k = self._n % self._pool.block_rows
        if k == 0:
            self._blocks.append(self._pool.take())
        self._blocks[-1][k] = row.reshape(()) if isinstance(row, np.ndarray) else row
        self._n += 1

    def blocks(self) -> Iterator[np.ndarray]:
        """The filled part of each block, in order (views: valid until `release`)."""
        rows = self._pool.block_rows
        for i, block in enumerate(self._blocks):
            yield block[: min(rows, self._n - i * rows)]

    def __getitem__(self, name: str) -> np.ndarray:
        """One field of every row, as a new contiguous array."""
        dtype = self.dtype.fields[name][0]
        out = np.empty((self._n, *dtype.shape), dtype.base)
        at = 0
        for block in self.blocks():
            out[at : at + len(block)] = block[name]
            at += len(block)
        return out

    def to_array(self) -> np.ndarray:
        """Every row as one structured array (a copy)."""
        out = np.empty(self._n, self.dtype)
        at = 0
        for block in self.blocks():
            out[at : at + len(block)] = block
            at += len(block)
        return out

    def release(self) -> None:
        """Hand the blocks back to the pool; the rows are gone after this."""
        blocks, self._blocks, self._n = self._blocks, [], 0
        self._pool.give(blocks)


def row_chunks(rows: np.ndarray | RowBlocks, chunk_rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """Consecutive runs of rows as structured arrays (views), whichever way they are held."""
    if isinstance(rows, RowBlocks):
        yield from rows.blocks()
        return
    for start in range(0, len(rows), chunk_rows):
        yield rows[start : start + chunk_rows]
