"""Rows kept in reusable blocks, and the episode file streamed from them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dexscrew_sdk.recording import Recorder, load_episode
from dexscrew_sdk.recording.episode import write_episode
from dexscrew_sdk.recording.row_blocks import BlockPool, RowBlocks, row_chunks
from dexscrew_sdk.recording.schema import STEP_DTYPE
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps

SMALL = np.dtype([("i", "<i8"), ("v", "<f4", (3,)), ("img", "u1", (2, 5))])


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(n, SMALL)
    out["i"] = rng.integers(-(10**12), 10**12, n)
    out["v"] = rng.standard_normal((n, 3))
    out["img"] = rng.integers(0, 256, (n, 2, 5))
    return out


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), block_rows=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_blocks_give_back_exactly_the_rows_appended(n: int, block_rows: int, seed: int) -> None:
    rows = _rows(n, seed)
    kept = RowBlocks(BlockPool(SMALL, block_rows))
    for r in rows:
        kept.append(r)
    assert len(kept) == n
    assert kept.to_array().tobytes() == rows.tobytes()
    for name in SMALL.names:
        assert kept[name].dtype == rows[name].dtype and np.array_equal(kept[name], rows[name])
    chunks = list(row_chunks(kept))
    assert [len(c) for c in chunks] == [len(c) for c in row_chunks(rows, block_rows)]
    assert all(0 < len(c) <= block_rows for c in chunks)


def test_released_blocks_are_reused_and_the_pool_keeps_no_more_than_its_limit() -> None:
    pool = BlockPool(SMALL, block_rows=4, keep_bytes=3 * 4 * SMALL.itemsize)
    first = RowBlocks(pool)
    for r in _rows(10, 1):  # three blocks
        first.append(r)
    assert pool.allocated == 3
    first.release()
    assert len(first) == 0 and pool.n_free == 3
    second = RowBlocks(pool)
    for r in _rows(12, 2):
        second.append(r)
    assert pool.allocated == 3 and second.to_array().tobytes() == _rows(12, 2).tobytes()
    third = RowBlocks(pool)
    for r in _rows(9, 3):  # nothing free: three new blocks
        third.append(r)
    assert pool.allocated == 6
    second.release()
    third.release()
    assert pool.n_free == 3  # the limit: the other three are left to the garbage collector


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**16))
def test_each_member_is_byte_for_byte_what_numpy_saves(tmp_path_factory, n: int, seed: int) -> None:
    """Streamed block by block, every member equals `np.save` of the whole field, so any numpy reads it."""
    rows = _rows(n, seed)
    kept = RowBlocks(BlockPool(SMALL, 7))
    for r in rows:
        kept.append(r)
    folder = tmp_path_factory.mktemp("ep")
    meta, events = {"n_steps": n, "note": "x"}, [{"kind": "k", "step_index": 0, "detail": {}}]
    for name, source in (("array", rows), ("blocks", kept)):
        path = folder / f"{name}.npz"
        write_episode(path, meta, source, events)
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None  # every member's CRC-32 is right
            assert zf.namelist() == ["meta_json.npy", "events_json.npy", "i.npy", "v.npy", "img.npy"]
            for field in SMALL.names:
                want = io.BytesIO()
                np.save(want, np.ascontiguousarray(rows[field]))
                assert zf.read(f"{field}.npy") == want.getvalue()
        with np.load(path) as z:
            assert z["v"].shape == (n, 3) and np.array_equal(z["img"], rows["img"])


def test_a_recorder_reuses_its_blocks_from_one_episode_to_the_next(tmp_path: Path) -> None:
    """After the first episode, recording and finishing another of the same length makes no new blocks."""
    with Recorder(tmp_path / "ds") as rec:
        for e in range(3):
            ep = rec.begin(synthetic_meta(seed=e))
            for s in synthetic_steps(300, seed=e):
                ep.append(s)
            done = ep.end(success=True).wait()
            if e == 0:
                made = rec._pool.allocated
        assert made == -(-300 // rec._pool.block_rows) and rec._pool.allocated == made
        loaded = load_episode(done.path)
    assert len(loaded) == 300 and loaded["tactile_force_n"].shape == (300, *STEP_DTYPE["tactile_force_n"].shape)
