"""A dataset folder: episodes/ of finished .npz files (and .log files being or left unfinished),
dataset.json (identity), index.json (a cache rebuilt from the episodes whenever it disagrees), .lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexscrew_sdk.recording.episode import EPISODE_SUFFIX, LOG_SUFFIX, parse_episode_index, read_meta
from dexscrew_sdk.recording.errors import DatasetBusyError, EpisodeFileError
from dexscrew_sdk.recording.log import replace_atomically, storage_error
from dexscrew_sdk.recording.schema import FORMAT_VERSION

INDEX_KEYS = (
    "episode_index",
    "episode_uuid",
    "task",
    "shape",
    "cell",
    "cell_kind",
    "seed",
    "operator_device",
    "control_hz",
    "success",
    "end_reason",
    "n_steps",
    "duration_s",
    "final_progress_ratio",
    "missing_steps",
    "steps_with_late_or_missing",
    "recovered",
)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Temp file, fsync, rename, fsync folder: readers see the old or the new file, never half of one."""
    replace_atomically(path, "w", lambda f: json.dump(data, f, indent=1, allow_nan=True), "writing")


@dataclass
class DatasetDir:
    root: Path

    @property
    def episodes_dir(self) -> Path:
        return self.root / "episodes"

    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    def episode_path(self, index: int) -> Path:
        return self.episodes_dir / f"episode_{index:06d}{EPISODE_SUFFIX}"

    def log_path(self, index: int) -> Path:
        return self.episodes_dir / f"episode_{index:06d}{LOG_SUFFIX}"

    def create(self) -> None:
        """Create the folder if needed (resuming into an existing one is the normal case)."""
        try:
            self.episodes_dir.mkdir(parents=True, exist_ok=True)
            if not (self.root / "dataset.json").exists():
                identity = {"format_version": FORMAT_VERSION, "dataset_uuid": str(uuid.uuid4())}
                write_json_atomic(self.root / "dataset.json", {**identity, "created_unix_s": time.time()})
        except OSError as exc:
            raise storage_error("creating dataset folder", self.root, exc) from None

    def exists(self) -> bool:
        return self.episodes_dir.is_dir()

    def identity(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "dataset.json").read_text())
        except (OSError, ValueError):
            return {}

    def episode_files(self) -> list[Path]:
        if not self.episodes_dir.is_dir():
            return []
        files = [p for p in self.episodes_dir.iterdir() if p.suffix == EPISODE_SUFFIX and not p.name.startswith(".")]
        return sorted((p for p in files if parse_episode_index(p) is not None), key=lambda p: parse_episode_index(p))

    def log_files(self) -> list[Path]:
        if not self.episodes_dir.is_dir():
            return []
        logs = [p for p in self.episodes_dir.iterdir() if p.suffix == LOG_SUFFIX and parse_episode_index(p) is not None]
        return sorted(logs, key=lambda p: parse_episode_index(p))

    def next_index(self) -> int:
        used = [parse_episode_index(p) for p in self.episode_files() + self.log_files()]
        return max((i for i in used if i is not None), default=-1) + 1

    # ---- the index: a cache of per-episode summaries -------------------------------------------

    def read_index(self) -> dict[str, Any]:
        """The index if it matches the files on disk, else a fresh one (written back when possible)."""
        try:
            idx = json.loads(self.index_path.read_text())
            listed = {(e["file"], e["size_bytes"]) for e in idx["episodes"]}
        except (OSError, ValueError, KeyError, TypeError):
            idx, listed = None, None
        present = {(p.name, p.stat().st_size) for p in self.episode_files()}
        if idx is not None and listed == present:
            return idx
        return self.rebuild_index()

    def rebuild_index(self, write: bool = True) -> dict[str, Any]:
        entries, unreadable = [], []
        for p in self.episode_files():
            try:
                entries.append(index_entry(p, read_meta(p)))
            except EpisodeFileError as exc:
                unreadable.append({"file": p.name, "error": str(exc)})
        idx = {"format_version": FORMAT_VERSION, "episodes": entries, "unreadable": unreadable}
        if write:
            with contextlib.suppress(OSError):  # a read-only dataset stays readable; the index is a cache
                write_json_atomic(self.index_path, idx)
        return idx

    def add_to_index(self, entry: dict[str, Any]) -> None:
        idx = self.read_index()
        episodes = [e for e in idx["episodes"] if e["file"] != entry["file"]] + [entry]
        idx["episodes"] = sorted(episodes, key=lambda e: e["episode_index"])
        write_json_atomic(self.index_path, idx)


def index_entry(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    entry = {k: meta.get(k) for k in INDEX_KEYS}
    entry["file"] = path.name
    entry["size_bytes"] = path.stat().st_size
    return entry


class DatasetLock:
    """Exclusive advisory lock: one writer (recorder or tool) per dataset; released when the process dies."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"
        self._fd = -1

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error("opening the lock file", self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DatasetBusyError(
                f"{self.path.parent} is being written by another process (pid {holder}); "
                "stop it or use another dataset folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DatasetLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
