"""Dataset tools that write: recover, merge, filter, trim, delete.

Derived datasets (merge, filter, trim) are new folders: the source is never
modified. Every write is an atomic episode file plus an index update, under the
destination's lock, so a crash mid-way leaves whole episodes only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.episode import Episode, load_episode, write_episode
from dexscrew_sdk.recording.errors import DatasetError, EpisodeFileError
from dexscrew_sdk.recording.index import DatasetDir, DatasetLock, index_entry
from dexscrew_sdk.recording.recorder import finalize_log
from dexscrew_sdk.recording.rows import summarise

IDLE_TOLERANCE = 1e-3  # the authors' converter: a step is idle if nothing moved more than this
MIN_KEEP_STEPS = 5


@dataclass
class RecoverResult:
    recovered: dict[str, int]  # log name -> steps in the recovered episode
    stale_logs_removed: list[str]  # logs whose episode had already been finished
    failed: dict[str, str]  # log name -> why it could not be recovered (left in place)
    temp_files_removed: list[str] = field(default_factory=list)  # halves of writes a crash interrupted


def recover(root: Path | str) -> RecoverResult:
    """Turn every unfinished log into an episode up to its last intact step."""
    d = DatasetDir(Path(root))
    if not d.exists():
        raise DatasetError(f"{root} is not a dataset folder (no episodes/ inside)")
    result = RecoverResult({}, [], {})
    with DatasetLock(d.root):
        for tmp in sorted(d.episodes_dir.glob(".*.tmp")):  # never renamed into place: incomplete by definition
            tmp.unlink()
            result.temp_files_removed.append(tmp.name)
        for log_path in d.log_files():
            npz = log_path.with_suffix(".npz")
            if npz.exists():
                try:
                    load_episode(npz)
                    log_path.unlink()  # finished, then stopped before the log was removed
                    result.stale_logs_removed.append(log_path.name)
                    continue
                except EpisodeFileError:
                    pass  # a damaged episode beside its log: rebuild it from the log
            try:
                done = finalize_log(d, log_path, recovered=True)
                result.recovered[log_path.name] = done.n_steps
            except EpisodeFileError as exc:
                result.failed[log_path.name] = str(exc)
    return result


def _copy_into(dst: DatasetDir, ep: Episode, index: int, rows: np.ndarray, extra: dict[str, Any]) -> None:
    meta = dict(ep.meta)
    meta.update(summarise(rows, meta))
    provenance = list(meta.get("provenance", []))
    provenance.append({"dataset": str(ep.path.parent.parent), "episode_index": ep.index})
    meta.update(extra)
    meta.update(episode_index=index, provenance=provenance)
    path = dst.episode_path(index)
    write_episode(path, meta, rows, ep.events)
    dst.add_to_index(index_entry(path, meta))


def _derive(
    sources: Iterable[Dataset],
    out: Path | str,
    pick: Callable[[dict[str, Any]], bool],
    transform: Callable[[Episode], tuple[np.ndarray, dict[str, Any]]] | None = None,
    on_episode: Callable[[], None] | None = None,
) -> list[int]:
    srcs = list(sources)
    dst = DatasetDir(Path(out))
    for s in srcs:
        if s.root.resolve() == dst.root.resolve():
            raise DatasetError(f"the output {out} is also an input; write derived datasets to a new folder")
    dst.create()
    written: list[int] = []
    with DatasetLock(dst.root):
        for src in srcs:
            for entry in src.entries():
                if not pick(entry):
                    continue
                ep = src[int(entry["episode_index"])]
                rows, extra = transform(ep) if transform else (ep.rows(), {})
                index = dst.next_index()
                _copy_into(dst, ep, index, rows, extra)
                written.append(index)
                if on_episode:
                    on_episode()
    return written


def merge(sources: Iterable[Path | str], out: Path | str, on_episode: Callable[[], None] | None = None) -> list[int]:
    """Copy every episode of the sources into `out` (new or existing), renumbered, provenance kept."""
    return _derive([Dataset(s) for s in sources], out, lambda _: True, on_episode=on_episode)


def filter_dataset(
    source: Path | str,
    out: Path | str,
    success: bool | None = None,
    task: str | None = None,
    shape: str | None = None,
    min_steps: int = 0,
    exclude_reasons: tuple[str, ...] = (),
) -> list[int]:
    """Episodes matching every given criterion, copied into `out`."""

    def pick(e: dict[str, Any]) -> bool:
        return (
            (success is None or e["success"] is success)
            and (task is None or e["task"] == task)
            and (shape is None or e["shape"] == shape)
            and int(e["n_steps"]) >= min_steps
            and e["end_reason"] not in exclude_reasons
        )

    return _derive([Dataset(source)], out, pick)


def idle_span(ep: Episode, tol: float = IDLE_TOLERANCE, min_keep: int = MIN_KEEP_STEPS) -> tuple[int, int]:
    """[start, stop) of the steps to keep: from the last idle step before the first motion to the
    last motion, where motion is any action or joint position changing by more than `tol`."""
    x = np.concatenate([ep["action_rad"], ep["q_rad"]], axis=1).astype(np.float64)
    n = len(x)
    if n <= min_keep:
        return 0, n
    change = np.nan_to_num(np.abs(np.diff(x, axis=0)), nan=0.0).max(axis=1)  # change[i]: step i -> i+1
    moving = np.flatnonzero(change > tol)
    if moving.size == 0:
        return 0, min(n, min_keep)
    start, stop = int(moving[0]), int(moving[-1]) + 2
    if stop - start < min_keep:
        stop = min(n, start + min_keep)
        start = max(0, stop - min_keep)
    return start, stop


def trim(
    source: Path | str, out: Path | str, tol: float = IDLE_TOLERANCE, min_keep: int = MIN_KEEP_STEPS
) -> dict[int, tuple[int, int]]:
    """Copy every episode with its idle head and tail removed; returns {new index: (head, tail) removed}."""
    if not tol >= 0:
        raise DatasetError(f"trim tolerance must be >= 0, got {tol}")
    removed: list[tuple[int, int]] = []

    def cut(ep: Episode) -> tuple[np.ndarray, dict[str, Any]]:
        start, stop = idle_span(ep, tol, min_keep)
        removed.append((start, len(ep) - stop))
        return ep.rows()[start:stop], {"trim": {"head_steps": start, "tail_steps": len(ep) - stop, "tol": tol}}

    written = _derive([Dataset(source)], out, lambda _: True, cut)
    return dict(zip(written, removed, strict=True))


def delete(root: Path | str, episode_indices: Iterable[int]) -> list[int]:
    """Remove episodes (their files) and rebuild the index. Unknown indices are an error, nothing removed."""
    ds = Dataset(root)
    wanted = sorted(set(int(i) for i in episode_indices))
    unknown = sorted(set(wanted) - set(ds.episode_indices()))
    if unknown:
        raise DatasetError(f"{root}: no episodes {unknown} (have {ds.episode_indices()}); nothing deleted")
    with DatasetLock(ds.root):
        for i in wanted:
            ds.dir.episode_path(i).unlink()
        ds.dir.rebuild_index()
    return wanted
