"""The finished episode file: one uncompressed .npz, self-describing, loadable with numpy alone.

Members: `meta_json` (UTF-8 JSON as uint8: metadata, row layout, field docs),
`events_json` (the episode's event records), and one array per step field
(`q_rad` (T, 18), `tactile_force_n` (T, 5, 120, 3), ...). Every zip member
carries a CRC-32 that numpy checks while reading it, so a flipped bit or a
truncated file is detected; `verify_episode` reads every member to prove it.

    import numpy as np, json
    ep = np.load("episode_000003.npz")
    meta = json.loads(ep["meta_json"].tobytes()); q = ep["q_rad"]
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from dexscrew_sdk.recording.errors import EpisodeFileError
from dexscrew_sdk.recording.log import replace_atomically
from dexscrew_sdk.recording.row_blocks import RowBlocks, row_chunks
from dexscrew_sdk.recording.schema import FORMAT_VERSION, dtype_from_descr

EPISODE_SUFFIX = ".npz"
LOG_SUFFIX = ".log"


def episode_name(index: int) -> str:
    return f"episode_{index:06d}"


def parse_episode_index(path: Path) -> int | None:
    stem = path.name.split(".")[0]
    if not stem.startswith("episode_"):
        return None
    digits = stem[len("episode_") :]
    return int(digits) if digits.isdigit() else None


def _json_array(data: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(data, allow_nan=True).encode(), dtype=np.uint8)


def write_episode(path: Path, meta: dict[str, Any], rows: np.ndarray | RowBlocks, events: list[dict[str, Any]]) -> int:
    """Write atomically: temp file in the same folder, fsync, rename, fsync the folder. Returns bytes.

    Each field's member is streamed a block of rows at a time through one small staging buffer
    (what `np.savez` would write, without first gathering each field into a new array)."""
    dtype = rows.dtype
    n = len(rows)

    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, data in (("meta_json", _json_array(meta)), ("events_json", _json_array(events))):
                _write_member(zf, name, data.dtype, data.shape, [data])
            for name in dtype.names or ():
                field = dtype.fields[name][0]
                pieces = (chunk[name] for chunk in row_chunks(rows))
                _write_member(zf, name, field.base, (n, *field.shape), pieces)

    replace_atomically(path, "wb", write, "writing episode file")
    return path.stat().st_size


def _write_member(
    zf: zipfile.ZipFile, name: str, dtype: np.dtype, shape: tuple[int, ...], pieces: Iterable[np.ndarray]
) -> None:
    """One `.npy` member from consecutive pieces along the first axis (C order, format 1.0)."""
    header = {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    stage = np.empty(0, np.uint8)
    with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
        npy_format.write_array_header_1_0(out, header)
        for piece in pieces:
            if stage.nbytes < piece.nbytes:
                stage = np.empty(piece.nbytes, np.uint8)
            flat = stage[: piece.nbytes]
            np.copyto(flat.view(dtype).reshape(piece.shape), piece)
            out.write(flat.data)


@dataclass
class Episode:
    """A finished episode in memory: metadata, events and one array per step field."""

    path: Path
    meta: dict[str, Any]
    events: list[dict[str, Any]]
    data: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.meta["n_steps"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    @property
    def index(self) -> int:
        return int(self.meta["episode_index"])

    def rows(self) -> np.ndarray:
        """The steps as one structured array (the log's row layout)."""
        dtype = dtype_from_descr(self.meta["step_dtype"])
        out = np.zeros(len(self), dtype)
        for name in dtype.names or ():
            out[name] = self.data[name]
        return out


def _open(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise EpisodeFileError(f"{path}: no such episode file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise EpisodeFileError(f"{path}: not a readable episode file (truncated or corrupted: {exc})") from None


def read_meta(path: Path) -> dict[str, Any]:
    """Only the metadata member (cheap: used to rebuild the index)."""
    with _open(path) as z:
        try:
            meta = json.loads(z["meta_json"].tobytes())
        except (KeyError, ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise EpisodeFileError(f"{path}: metadata unreadable (truncated or corrupted: {exc})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise EpisodeFileError(f"{path}: episode format {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    return meta


def load_episode(path: Path | str) -> Episode:
    """Load every member, checking CRCs, lengths and dtypes; EpisodeFileError names the file."""
    path = Path(path)
    with _open(path) as z:
        try:
            meta = json.loads(z["meta_json"].tobytes())
            events = json.loads(z["events_json"].tobytes())
            dtype = dtype_from_descr(meta["step_dtype"])
            data = {name: z[name] for name in dtype.names or ()}
        except (KeyError, ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise EpisodeFileError(f"{path}: truncated or corrupted ({type(exc).__name__}: {exc})") from None
    n = int(meta.get("n_steps", -1))
    for name, arr in data.items():
        want = dtype.fields[name][0]
        if arr.shape != (n, *want.shape) or arr.dtype != want.base:
            raise EpisodeFileError(
                f"{path}: field {name!r} has shape {arr.shape} {arr.dtype}, expected {(n, *want.shape)} {want.base}"
            )
    return Episode(path, meta, events, data)


def verify_episode(path: Path) -> dict[str, Any]:
    """Full integrity check of a finished episode; returns its metadata or raises EpisodeFileError."""
    return load_episode(path).meta
