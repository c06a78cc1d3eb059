"""Write calibration files as revisions: every calibration is a new file, the old ones stay.

`--out calib/hand_joint_offsets.json` names the *current* calibration: a symbolic
link to the newest revision `calib/hand_joint_offsets.r0003.json`. A revision
is created complete in one step and never changed; moving the link is one
atomic rename. A driver configured with the current path therefore reads one
whole revision, and a recording that stored a revision's path and sha256 can
always find it again. An unversioned file found at the current path (from an
earlier release) is kept as revision 0 before the link replaces it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk.errors import DexscrewError
from tools.atomic import point_link, write_json_new


class CalibrationRefused(DexscrewError):
    """The measurement does not look like a valid calibration; nothing was written."""


def revision_path(current: Path, revision: int) -> Path:
    return current.with_name(f"{current.stem}.r{revision:04d}{current.suffix}")


def revisions(current: Path) -> list[tuple[int, Path]]:
    """(revision, path) of every revision next to `current`, oldest first."""
    pattern = re.compile(re.escape(current.stem) + r"\.r(\d{4,})" + re.escape(current.suffix) + "$")
    found = []
    if current.parent.is_dir():
        for p in current.parent.iterdir():
            m = pattern.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest(current: Path, kind: str) -> cf.CalibrationFile | None:
    """The calibration the current path names, or None when there is none yet."""
    if not current.exists():
        return None
    return cf.load(current.resolve(), kind)


def write_revision(
    current: Path,
    kind: str,
    arrays: dict[str, np.ndarray],
    device_model: str = "",
    procedure: dict[str, Any] | None = None,
) -> cf.CalibrationFile:
    """Write the next revision and point `current` at it; returns the loaded, validated new file."""
    current = Path(current)
    previous = latest(current, kind)
    if current.exists() and not current.is_symlink():
        _keep_unversioned(current)
        previous = cf.load(revision_path(current, 0), kind)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    while True:  # another writer may take a revision number between listing and creating
        existing = revisions(current)
        revision = (existing[-1][0] if existing else 0) + 1
        doc = cf.document(
            kind,
            revision,
            arrays,
            created,
            device_model,
            procedure,
            None if previous is None else {"path": previous.path.name, "sha256": previous.sha256},
        )
        target = revision_path(current, revision)
        try:
            write_json_new(target, doc)
            break
        except FileExistsError:
            continue
    point_link(current, target)
    return cf.load(target, kind)


def _keep_unversioned(current: Path) -> None:
    """An old-style file at the current path becomes revision 0 (renamed, not rewritten)."""
    keep = revision_path(current, 0)
    if keep.exists():
        raise cf.CalibrationFileError(
            f"{current} is a plain file and {keep} exists already; move one of them away and run again"
        )
    current.rename(keep)
