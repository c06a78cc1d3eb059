"""The append-only episode log: CRC-framed records, one `write()` per step.

Layout: a sequence of frames, each `magic(4) kind(1) pad(3) length(u32) crc32(u32)`
followed by `length` payload bytes; the CRC covers the kind and the payload. Kinds: H (JSON header: metadata and row
layout), S (one binary step row), E (JSON event), X (JSON end record). A crash
can only damage the frame being written; readers stop at the first frame that
is short or fails its CRC, so everything before it is recovered.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from dexscrew_sdk.atomic import fsync_dir, write_atomic
from dexscrew_sdk.recording.errors import EpisodeFileError, StepRecordError, StorageError
from dexscrew_sdk.recording.row_blocks import RowBlocks
from dexscrew_sdk.recording.schema import dtype_from_descr

MAGIC = b"DXLG"
FRAME = struct.Struct("<4sB3xII")
HEADER, STEP, EVENT, END = b"H", b"S", b"E", b"X"


def storage_error(action: str, path: Path, exc: OSError) -> StorageError:
    """A StorageError that says what was refused and why, in the user's terms."""
    why = {
        errno.ENOSPC: "the filesystem is full",
        errno.EFBIG: "the file size limit was reached (RLIMIT_FSIZE or the filesystem's maximum)",
        errno.EROFS: "the location is read-only",
        errno.EACCES: "permission denied",
        errno.ENOTDIR: "a parent path is a regular file, not a directory",
        errno.EDQUOT: "the disk quota is exhausted",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    err = StorageError(
        f"{action} {path} failed: {why} ([Errno {exc.errno}]). Episodes already finished are intact; "
        "a partial episode keeps every step flushed before this error (`dexscrew dataset recover`)."
    )
    err.errno = exc.errno
    return err


def _crc(kind: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(bytes([kind])))  # the kind is checked too


def frame(kind: bytes, payload: bytes) -> bytes:
    return FRAME.pack(MAGIC, kind[0], len(payload), _crc(kind[0], payload)) + payload


def _plain(value: Any) -> Any:
    """numpy values in metadata and event details become plain JSON numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def json_payload(data: dict[str, Any]) -> bytes:
    """The bytes a JSON frame carries (what `read_log` decodes back)."""
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=True, default=_plain)
    except (TypeError, ValueError) as exc:
        raise StepRecordError(f"cannot record {sorted(data)}: {exc}; use numbers, strings, lists and dicts") from None
    return text.encode()


def json_frame(kind: bytes, data: dict[str, Any]) -> bytes:
    return frame(kind, json_payload(data))


class LogWriter:
    """Appends frames with unbuffered os.write: once append() returns, a SIGKILL cannot lose the frame."""

    def __init__(self, path: Path, header: dict[str, Any], fsync_each: bool) -> None:
        self.path = path
        self.fsync_each = fsync_each
        self.bytes_written = 0
        first = json_frame(HEADER, header)  # a header that cannot be written must not leave a file
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except OSError as exc:
            raise storage_error("creating episode log", path, exc) from None
        self.append(first)
        if fsync_each:  # power-loss safety per step needs the log's name on disk too
            self.fsync()
            fsync_dir(path.parent)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:  # a short write (size limit) is followed by the error on the next call
                n = os.write(self._fd, view)
                view = view[n:]
                self.bytes_written += n
            if self.fsync_each:
                os.fdatasync(self._fd)
        except OSError as exc:
            raise storage_error("appending to episode log", self.path, exc) from None

    def fsync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise storage_error("syncing episode log", self.path, exc) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass
class LogContents:
    """What a log holds up to its first damaged or missing frame."""

    header: dict[str, Any]
    rows: np.ndarray | RowBlocks  # RowBlocks: a recorder's in-memory copy (EpisodeWriter.take_contents)
    events: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    valid_bytes: int = 0
    total_bytes: int = 0
    damage: str = ""  # why reading stopped before the end of the file ("" if it did not)


def read_log(path: Path) -> LogContents:
    """Every intact frame of a log; raises EpisodeFileError only if not even the header is intact."""
    data = Path(path).read_bytes()
    offset, header, damage = 0, None, ""
    rows: list[bytes] = []
    events: list[dict[str, Any]] = []
    end: dict[str, Any] | None = None
    while offset < len(data):
        if len(data) - offset < FRAME.size:
            damage = f"truncated frame header at byte {offset}"
            break
        magic, kind, length, crc = FRAME.unpack_from(data, offset)
        start = offset + FRAME.size
        payload = data[start : start + length]
        if magic != MAGIC:
            damage = f"bad frame marker at byte {offset}"
            break
        if len(payload) < length:
            damage = f"truncated frame at byte {offset} ({len(payload)} of {length} bytes)"
            break
        if _crc(kind, payload) != crc:
            damage = f"checksum mismatch in frame at byte {offset}"
            break
        kind_b = bytes([kind])
        if kind_b == HEADER and header is None:
            header = json.loads(payload)
        elif header is None:
            damage = f"frame before the header at byte {offset}"
            break
        elif kind_b == STEP:
            rows.append(payload)
        elif kind_b == EVENT:
            events.append(json.loads(payload))
        elif kind_b == END:
            end = json.loads(payload)
        else:
            damage = f"unknown frame kind {kind_b!r} at byte {offset}"
            break
        offset = start + length
    if header is None:
        raise EpisodeFileError(f"{path}: not an episode log or its header is damaged ({damage or 'empty file'})")
    dtype = dtype_from_descr(header["step_dtype"])
    good = [r for r in rows if len(r) == dtype.itemsize]
    if len(good) != len(rows):
        damage = damage or f"{len(rows) - len(good)} step rows of the wrong size"
    arr = np.frombuffer(b"".join(good), dtype=dtype) if good else np.zeros(0, dtype)
    return LogContents(header, arr, events, end, offset, len(data), damage)


def replace_atomically(path: Path, mode: str, write: Callable[[IO[Any]], None], action: str) -> None:
    """The one durable whole-file write (dexscrew_sdk.atomic), its failure as the dataset's StorageError.
    Readers see the old file or the new one, never half of one; a failure leaves path untouched."""
    try:
        write_atomic(path, write, binary="b" in mode)
    except OSError as exc:
        raise storage_error(action, path, exc) from None
