"""Episodes for BC: a recorded dataset opened memory-mapped, checked, filtered, with its identity.

Episode files (dexscrew_sdk.recording) are uncompressed .npz archives, so each member
is a plain .npy at a fixed offset of the file: `memmap_member` maps q_rad,
tactile_force_n and action_rad in place, and training reads only the rows of a batch
from the page cache (no whole-dataset copy in RAM, as the authors' loader makes).
Every episode is checked once at open: layout against the first one, every value
finite (errors name the episode, the field and the step).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from policies.bc.layout import JOINT_DIM, TACTILE_DIM, BCError

FIELDS = {"q": "q_rad", "tactile": "tactile_force_n", "action": "action_rad"}
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # zip local file header, 30 bytes
CHECK_ROWS = 512  # finiteness is checked this many rows at a time (bounded memory)


@dataclass
class EpisodeArrays:
    """One episode's training arrays, [hand 12, arm 6] joints; tactile flattened to 1800."""

    name: str  # "episode_000003" (or a synthetic name)
    q: np.ndarray  # (T, 18) rad
    tactile: np.ndarray  # (T, 1800) N
    action: np.ndarray  # (T, 18) rad
    success: bool | None = True
    control_hz: float = 20.0
    uuid: str = ""
    index: int = -1

    def __len__(self) -> int:
        return len(self.q)


@dataclass(frozen=True)
class EpisodeFilter:
    """Which episodes train: filtered BC keeps successful ones only (method.md)."""

    success_only: bool = True
    tasks: tuple[str, ...] = ()
    shapes: tuple[str, ...] = ()
    min_steps: int = 1

    def describe(self) -> str:
        parts = ["success == true" if self.success_only else "any outcome"]
        if self.tasks:
            parts.append(f"task in {list(self.tasks)}")
        if self.shapes:
            parts.append(f"shape in {list(self.shapes)}")
        parts.append(f"n_steps >= {self.min_steps}")
        return " and ".join(parts)

    def keeps(self, entry: dict[str, Any]) -> bool:
        return (
            (not self.success_only or entry.get("success") is True)
            and (not self.tasks or entry.get("task") in self.tasks)
            and (not self.shapes or entry.get("shape") in self.shapes)
            and int(entry.get("n_steps", 0)) >= self.min_steps
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["description"] = self.describe()
        return d


@dataclass
class BCData:
    episodes: list[EpisodeArrays]
    identity: dict[str, Any] = field(default_factory=dict)  # dataset uuid, index hash, episodes used, filter

    @property
    def frames(self) -> int:
        return sum(len(e) for e in self.episodes)


def memmap_member(path: Path, member: str) -> np.ndarray:
    """A stored (uncompressed) .npy member of a zip archive, memory-mapped read-only."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            raise BCError(f"{path}: member {member} is compressed; episode files are written uncompressed")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        sig, *_rest, name_len, extra_len = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
        if sig != b"PK\x03\x04":
            raise BCError(f"{path}: member {member} has no local zip header (file damaged?)")
        f.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        version = npy_format.read_magic(f)
        reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran, dtype = reader(f)
        offset = f.tell()
    if fortran or dtype.hasobject:
        raise BCError(f"{path}: member {member} is not a plain C-ordered array")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _first_bad_step(arr: np.ndarray) -> int | None:
    for start in range(0, len(arr), CHECK_ROWS):
        chunk = np.asarray(arr[start : start + CHECK_ROWS]).reshape(min(CHECK_ROWS, len(arr) - start), -1)
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            return start + int(np.flatnonzero(bad)[0])
    return None


def check_finite(ep: EpisodeArrays, step_index: np.ndarray | None = None) -> None:
    """Refuse non-finite values, naming the episode, the field and the step."""
    for attr, fname in FIELDS.items():
        row = _first_bad_step(getattr(ep, attr))
        if row is not None:
            step = int(step_index[row]) if step_index is not None else row
            raise BCError(
                f"{ep.name}: {fname} is not finite at step {step} (row {row}); missing samples are recorded "
                "as NaN: trim or drop the episode (dexscrew dataset ...) before training"
            )


def check_layout(ep: EpisodeArrays, ref: EpisodeArrays | None) -> None:
    """Every episode must have the BC layout and agree with the first one (rate included)."""
    want = {"q": (JOINT_DIM,), "tactile": (TACTILE_DIM,), "action": (JOINT_DIM,)}
    for attr, shape in want.items():
        arr = getattr(ep, attr)
        if arr.ndim != 2 or arr.shape[1:] != shape:
            raise BCError(f"{ep.name}: {FIELDS[attr]} has per-step shape {arr.shape[1:]}, expected {shape}")
        if len(arr) != len(ep.q):
            raise BCError(f"{ep.name}: {FIELDS[attr]} has {len(arr)} steps, q_rad has {len(ep.q)}")
    if ref is not None and ep.control_hz != ref.control_hz:
        raise BCError(f"{ep.name}: recorded at {ep.control_hz} Hz, but {ref.name} at {ref.control_hz} Hz")


def _tactile_2d(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim < 2:
        raise BCError(f"{name}: tactile_force_n has shape {arr.shape}, expected (T, 5, 120, 3)")
    return arr.reshape(len(arr), -1)


def open_dataset(root: str | Path, flt: EpisodeFilter | None = None) -> BCData:
    """Open a recorded dataset: select episodes, memory-map their arrays and check them."""
    from dexscrew_sdk.recording.dataset import Dataset
    from dexscrew_sdk.recording.episode import read_meta
    from dexscrew_sdk.recording.errors import RecordingError

    flt = flt or EpisodeFilter()
    try:
        ds = Dataset(root)
        index = ds.index()
    except RecordingError as exc:
        raise BCError(str(exc)) from None
    entries = list(index["episodes"])
    if not entries:
        raise BCError(f"{root}: the dataset holds no finished episodes; record some first (dexscrew record ...)")
    kept = [e for e in entries if flt.keeps(e)]
    if not kept:
        outcomes = {str(e.get("success")): 0 for e in entries}
        for e in entries:
            outcomes[str(e.get("success"))] += 1
        raise BCError(
            f"{root}: no episode passes the filter ({flt.describe()}) out of {len(entries)} "
            f"(success labels: {outcomes}); label episodes or train with --all-episodes"
        )
    episodes: list[EpisodeArrays] = []
    for e in kept:
        path = ds.dir.episode_path(int(e["episode_index"]))
        try:
            meta = read_meta(path)
            arrays = {a: memmap_member(path, f"{f}.npy") for a, f in FIELDS.items()}
            step_index = np.asarray(memmap_member(path, "step_index.npy"))
        except (RecordingError, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
            raise BCError(f"{path.name}: unreadable as a BC episode: {exc}") from None
        ep = EpisodeArrays(
            name=path.stem,
            q=arrays["q"],
            tactile=_tactile_2d(arrays["tactile"], path.stem),
            action=arrays["action"],
            success=e.get("success"),
            control_hz=float(meta.get("control_hz", 0.0)),
            uuid=str(e.get("episode_uuid", "")),
            index=int(e["episode_index"]),
        )
        check_layout(ep, episodes[0] if episodes else None)
        check_finite(ep, step_index)
        episodes.append(ep)
    identity = {
        "root": str(Path(root).resolve()),
        "dataset_uuid": ds.dir.identity().get("dataset_uuid"),
        "index_sha256": index_hash(entries),
        "episodes_in_dataset": len(entries),
        "filter": flt.to_dict(),
    }
    return BCData(episodes, identity)


def index_hash(entries: list[dict[str, Any]]) -> str:
    """Identity of the dataset's contents: the index entries (file, size, uuid, labels), canonical JSON."""
    text = json.dumps(sorted(entries, key=lambda e: e["episode_index"]), sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def from_arrays(episodes: list[EpisodeArrays], flt: EpisodeFilter | None = None, name: str = "in-memory") -> BCData:
    """An in-memory dataset (tests, synthetic data), checked and filtered like a recorded one."""
    flt = flt or EpisodeFilter()
    kept = [e for e in episodes if flt.keeps({"success": e.success, "n_steps": len(e)})]
    if not kept:
        raise BCError(f"{name}: no episode passes the filter ({flt.describe()}) out of {len(episodes)}")
    for i, ep in enumerate(kept):
        check_layout(ep, kept[0] if i else None)
        check_finite(ep)
    entries = [
        {"episode_index": i, "name": e.name, "n_steps": len(e), "success": e.success} for i, e in enumerate(episodes)
    ]
    return BCData(
        kept, {"root": name, "dataset_uuid": None, "index_sha256": index_hash(entries), "filter": flt.to_dict()}
    )


def synthetic_episodes(n: int, steps: int, seed: int = 0, success: bool | None = True) -> list[EpisodeArrays]:
    """Smooth, learnable episodes: the next target follows the joint and touch history."""
    from dexscrew_sdk import joints

    rng = np.random.default_rng(seed)
    mid = np.concatenate([0.5 * (joints.XHAND_LOWER_RAD + joints.XHAND_UPPER_RAD), joints.UR5E_HOME_RAD])
    half = np.concatenate([0.5 * (joints.XHAND_UPPER_RAD - joints.XHAND_LOWER_RAD), np.full(6, np.pi)])
    amplitude = np.minimum(0.2, 0.3 * half)  # well inside every joint's limits
    out = []
    for i in range(n):
        t = np.arange(steps) / 20.0
        phase = rng.uniform(0, 2 * np.pi, JOINT_DIM)
        q = mid + amplitude * np.sin(0.8 * t[:, None] + phase)
        tactile = np.zeros((steps, TACTILE_DIM), np.float32)
        contact = np.sin(0.8 * t + phase[0]) > 0.3
        tactile[contact, 2::3][:, :40] = 1.5  # fingertip 0's normal forces while in contact
        action = np.roll(q, -2, axis=0)
        action[-2:] = q[-1]
        action[:, 0] += 0.05 * contact  # touch changes the thumb's target (thumb_bend: 0.92 +- 0.2, room)
        out.append(
            EpisodeArrays(f"synthetic_{i:03d}", q.astype(np.float32), tactile, action.astype(np.float32), success)
        )
    return out
