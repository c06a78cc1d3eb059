"""Whole-file writes that a crash cannot leave half done: the one helper of every layer.

A file is written to a temporary name in its own folder, flushed and fsynced,
then renamed over the target (atomic on POSIX) and the folder fsynced, so a
reader sees the old file or the new one, never a mix, and a failure leaves the
target as it was. Results, checkpoints, indexes and calibration files use it.

Standard library only and Python 3.8 syntax: the IsaacGym training path runs on
Python 3.8, where the SDK package cannot be imported, and loads this file on its
own through `policies.rl.sdk.sdk_module("atomic")`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, write: Callable[[IO[Any]], None], binary: bool = True) -> None:
    """Replace `path` in one step with what `write(f)` writes to an open file (binary or text)."""
    path = Path(path)
    tmp = _write_temp(path, write, binary)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)  # the rename itself survives a power cut


def write_json_atomic(path: Path, data: Any, sort_keys: bool = False) -> None:
    """Replace `path` in one step with `data` as indented JSON."""
    write_atomic(path, lambda f: _dump_json(data, f, sort_keys), binary=False)


def write_json_new(path: Path, data: Any) -> None:
    """Create `path` complete in one step; FileExistsError if it exists (an existing file is never touched)."""
    path = Path(path)
    tmp = _write_temp(path, lambda f: _dump_json(data, f, False), binary=False)
    try:
        os.link(tmp, path)  # fails when path exists, unlike rename
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(path.parent)


def point_link(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` (relative), replacing an older link in one step."""
    link = Path(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.{os.getpid()}.link"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new link) durable."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Writes are handed to the kernel at most this many bytes at a time: one write() of an 18 MB episode
# member stalled 150-290 ms in dirty-page throttling on an ext4 disk where 1 MB pieces of the same
# data took 6-8 ms in all (docs/recording.md).
WRITE_CHUNK_BYTES = 1 << 20


class _ChunkedFileIO(io.FileIO):
    """A raw file whose large writes reach the kernel in WRITE_CHUNK_BYTES pieces."""

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fileno(), view[done : done + WRITE_CHUNK_BYTES])
        return done


def _write_temp(path: Path, write: Callable[[IO[Any]], None], binary: bool) -> str:
    """A fully written and synced temporary file next to `path`; returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        raw = _ChunkedFileIO(fd, "wb")
        with io.BufferedWriter(raw) if binary else io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _dump_json(data: Any, f: IO[Any], sort_keys: bool) -> None:
    json.dump(data, f, indent=1, sort_keys=sort_keys)
    f.write("\n")
