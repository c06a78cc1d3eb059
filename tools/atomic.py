"""Write result files so a crash never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _write_temp(path: Path, data: dict[str, Any]) -> str:
    """A fully written and synced temporary file next to `path`; returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` in one step: readers see the old file or the new one, never a mix."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)  # atomic on POSIX
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_new(path: Path, data: dict[str, Any]) -> None:
    """Create `path` complete in one step; FileExistsError if it exists (an existing file is never touched)."""
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)  # fails when path exists, unlike rename
    finally:
        Path(tmp).unlink(missing_ok=True)


def point_link(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` (relative), replacing an older link in one step."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.{os.getpid()}.link"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
