"""Calibration files: one versioned JSON format for every calibration a device applies.

A calibration file is written once and never changed (tools/calibration_store.py
writes a new revision next to the old ones and moves the `current` link), so a
recording that stores a file's path and sha256 (`file_identity`) names exactly
the calibration it was taken with. Layout::

    {"format": "dexscrew-calibration", "format_version": 1, "kind": "hand_joint_offsets",
     "revision": 3, "created_utc": "2026-12-01T21:40:00Z", "device_model": "xhand1",
     "data": {...}, "procedure": {...}, "previous": {"path": ..., "sha256": ...} | null}

Kinds and their `data`:

- ``hand_joint_offsets``: ``joint_offsets_rad`` (12, canonical order) such that
  canonical angle = raw angle + offset; ``joint_names`` must match `joints.HAND_JOINT_NAMES`.
- ``tactile_baseline``: ``baseline_n`` (5, 120, 3) subtracted from every raw frame;
  ``noise_floor_n`` (5, 120, 3), the per-taxel standard deviation at rest.

Format version 0 is the unversioned files of earlier releases
(``{"joint_offsets_rad": [...]}``, ``{"tactile_zero_n": [...]}``); they still load.
Only numpy and the standard library: drivers and twins import this module.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.errors import ConfigError

FORMAT = "dexscrew-calibration"
FORMAT_VERSION = 1
HAND_JOINT_OFFSETS = "hand_joint_offsets"
TACTILE_BASELINE = "tactile_baseline"
# kind -> {data key: shape}; every listed array is required and finite
ARRAYS: dict[str, dict[str, tuple[int, ...]]] = {
    HAND_JOINT_OFFSETS: {"joint_offsets_rad": (joints.HAND_DOF,)},
    TACTILE_BASELINE: {"baseline_n": joints.TACTILE_SHAPE, "noise_floor_n": joints.TACTILE_SHAPE},
}
_LEGACY_KEYS = {HAND_JOINT_OFFSETS: "joint_offsets_rad", TACTILE_BASELINE: "tactile_zero_n"}


class CalibrationFileError(ConfigError):
    """A calibration file is missing, unreadable, of another kind or not valid."""


@dataclass(frozen=True)
class CalibrationFile:
    kind: str
    revision: int
    arrays: dict[str, np.ndarray]
    path: Path
    sha256: str
    format_version: int = FORMAT_VERSION
    created_utc: str = ""
    device_model: str = ""
    procedure: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        """What a recording stores to name this calibration: path, content hash, kind, revision."""
        return {"path": str(self.path), "sha256": self.sha256, "kind": self.kind, "revision": self.revision}


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def document(
    kind: str,
    revision: int,
    arrays: dict[str, np.ndarray],
    created_utc: str,
    device_model: str = "",
    procedure: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a new calibration, validated as `load` would validate it."""
    _check_arrays(kind, arrays, "<new calibration>")
    data: dict[str, Any] = {k: np.asarray(v, dtype=float).tolist() for k, v in arrays.items()}
    if kind == HAND_JOINT_OFFSETS:
        data["joint_names"] = list(joints.HAND_JOINT_NAMES)
    if kind == TACTILE_BASELINE:
        data["fingertip_names"] = list(joints.FINGERTIP_NAMES)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "revision": int(revision),
        "created_utc": created_utc,
        "device_model": device_model,
        "data": data,
        "procedure": dict(procedure or {}),
        "previous": previous,
    }


def load(path: str | Path, kind: str) -> CalibrationFile:
    """Read and validate a calibration file of `kind`; `CalibrationFileError` names the file and the problem."""
    if kind not in ARRAYS:
        raise CalibrationFileError(f"unknown calibration kind {kind!r}; choose one of {sorted(ARRAYS)}")
    path = Path(path)
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
    except OSError as exc:
        raise CalibrationFileError(f"calibration file {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CalibrationFileError(f"calibration file {path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CalibrationFileError(f"calibration file {path}: expected a JSON object")
    digest = hashlib.sha256(raw).hexdigest()
    if "format" not in doc:
        return _load_legacy(doc, kind, path, digest)
    if doc.get("format") != FORMAT:
        raise CalibrationFileError(f"calibration file {path}: format {doc.get('format')!r} is not {FORMAT!r}")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise CalibrationFileError(
            f"calibration file {path}: format_version {version!r} is not supported (this SDK reads "
            f"{FORMAT_VERSION} and unversioned files); update the SDK or recalibrate"
        )
    if doc.get("kind") != kind:
        raise CalibrationFileError(f"calibration file {path}: holds a {doc.get('kind')!r} calibration, not {kind!r}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise CalibrationFileError(f"calibration file {path}: 'data' must be an object")
    if kind == HAND_JOINT_OFFSETS and data.get("joint_names") != list(joints.HAND_JOINT_NAMES):
        raise CalibrationFileError(
            f"calibration file {path}: joint_names {data.get('joint_names')} are not the canonical order "
            f"{list(joints.HAND_JOINT_NAMES)}"
        )
    arrays = _check_arrays(kind, {k: data.get(k) for k in ARRAYS[kind]}, str(path))
    revision = doc.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise CalibrationFileError(f"calibration file {path}: revision must be a positive integer, got {revision!r}")
    previous = doc.get("previous")
    return CalibrationFile(
        kind,
        revision,
        arrays,
        path,
        digest,
        FORMAT_VERSION,
        str(doc.get("created_utc", "")),
        str(doc.get("device_model", "")),
        dict(doc.get("procedure") or {}),
        previous if isinstance(previous, dict) else None,
    )


def _load_legacy(doc: dict[str, Any], kind: str, path: Path, digest: str) -> CalibrationFile:
    key = _LEGACY_KEYS[kind]
    if key not in doc:
        raise CalibrationFileError(
            f"calibration file {path}: neither a versioned calibration ('format': {FORMAT!r}) nor an "
            f"unversioned one with {key!r}"
        )
    arrays = {next(iter(ARRAYS[kind])): doc[key]}
    if kind == TACTILE_BASELINE:
        arrays["noise_floor_n"] = doc.get("noise_std_n", np.zeros(joints.TACTILE_SHAPE))
    checked = _check_arrays(kind, arrays, str(path))
    return CalibrationFile(kind, 0, checked, path, digest, format_version=0)


def _check_arrays(kind: str, arrays: dict[str, Any], where: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, shape in ARRAYS[kind].items():
        try:
            arr = np.asarray(arrays.get(key), dtype=float)
        except (TypeError, ValueError):
            raise CalibrationFileError(f"calibration file {where}: {key} is not numeric") from None
        if arr.shape != shape:
            raise CalibrationFileError(f"calibration file {where}: {key} must have shape {shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0].tolist()
            raise CalibrationFileError(f"calibration file {where}: {key}{bad} is not finite")
        out[key] = arr
    if kind == TACTILE_BASELINE and (out["noise_floor_n"] < 0).any():
        raise CalibrationFileError(f"calibration file {where}: noise_floor_n must be >= 0")
    return out


def load_joint_offsets(path: str | Path) -> CalibrationFile:
    return load(path, HAND_JOINT_OFFSETS)


def load_tactile_baseline(path: str | Path) -> CalibrationFile:
    return load(path, TACTILE_BASELINE)


def file_identity(path: str | Path, kind: str) -> dict[str, Any]:
    """Path (resolved: a `current` link names its revision), sha256, kind and revision of a calibration file."""
    cal = load(Path(path).resolve(), kind)
    return cal.identity()
