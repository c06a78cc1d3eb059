"""Export a dataset as a LeRobotDataset v3.0 folder (the `[export]` extra: pyarrow).

The export is a view of the dataset, never the only copy. Timestamps are the
MEASURED control-step stamps (seconds since the episode's first step), not
frame_index / fps. Layout written (LeRobot 0.4.x, codebase v3.0):

    meta/info.json  meta/stats.json  meta/tasks.parquet
    meta/episodes/chunk-000/file-000.parquet
    data/chunk-000/file-000.parquet ... (a new file past 100 MB, a new chunk past 1000 files)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.episode import Episode
from dexscrew_sdk.recording.errors import DatasetError
from dexscrew_sdk.recording.schema import ACTION_NAMES

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_FILE_SIZE_MB = 100
VIDEO_FILE_SIZE_MB = 200
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
ROBOT_TYPE = "ur5e_xhand_left"

# LeRobot feature -> (source field in our episodes, dtype, shape, names)
FEATURES: dict[str, tuple[str, str, tuple[int, ...], Any]] = {
    "observation.state": ("q_rad", "float32", (18,), list(ACTION_NAMES)),
    "observation.tactile": ("tactile_force_n", "float32", joints.TACTILE_SHAPE, ["fingertip", "taxel", "axis"]),
    "observation.arm_tcp_pose": ("arm_tcp_pose", "float32", (6,), ["x", "y", "z", "rx", "ry", "rz"]),
    "observation.arm_tcp_force_n": ("arm_tcp_force_n", "float32", (6,), ["fx", "fy", "fz", "tx", "ty", "tz"]),
    "observation.skill_on": ("skill_on", "float32", (1,), ["skill_on"]),
    "action": ("action_rad", "float32", (18,), list(ACTION_NAMES)),
}
DEFAULT_FEATURES = {
    "timestamp": ("float32", (1,)),
    "frame_index": ("int64", (1,)),
    "episode_index": ("int64", (1,)),
    "index": ("int64", (1,)),
    "task_index": ("int64", (1,)),
}


def task_text(task: str, shape: str) -> str:
    if task == "nut":
        return f"fasten the {shape} nut on the bolt"
    if task == "screwdriver":
        return f"drive the screw with the {shape} screwdriver"
    return f"{task} {shape}"


def _pa() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ModuleNotFoundError:
        raise DatasetError("LeRobot export needs pyarrow: pip install 'dexscrew-sdk[export]'") from None
    return pyarrow


def _arrow_type(pa: Any, dtype: str, shape: tuple[int, ...]) -> Any:
    t = pa.from_numpy_dtype(np.dtype(dtype))
    if shape == (1,):
        return t
    for n in reversed(shape):  # fixed-size lists, innermost last (what datasets' Sequence/ArrayND read)
        t = pa.list_(t, n)
    return t


def _column(pa: Any, values: np.ndarray, dtype: str, shape: tuple[int, ...]) -> Any:
    arr = np.ascontiguousarray(values, dtype=np.dtype(dtype)).reshape(len(values), *shape)
    if shape == (1,):
        return pa.array(arr.reshape(-1))
    col = pa.array(arr.reshape(-1))
    for n in reversed(shape):
        col = pa.FixedSizeListArray.from_arrays(col, n)
    return col


def _stats(x: np.ndarray) -> dict[str, list[Any]]:
    x = x.astype(np.float64)
    out = {
        "min": np.nanmin(x, axis=0),
        "max": np.nanmax(x, axis=0),
        "mean": np.nanmean(x, axis=0),
        "std": np.nanstd(x, axis=0),
        "count": np.array([len(x)]),
    }
    for q in QUANTILES:
        out[f"q{round(q * 100):02d}"] = np.nanquantile(x, q, axis=0)
    return {k: np.asarray(v).tolist() for k, v in out.items()}


def _episode_columns(ep: Episode, ep_index: int, first_index: int, task_index: int) -> dict[str, np.ndarray]:
    n = len(ep)
    stamps = ep["stamp_ns"]
    cols = {
        "timestamp": ((stamps - stamps[0]) / 1e9).astype(np.float32),  # measured, not frame_index / fps
        "frame_index": np.arange(n, dtype=np.int64),
        "episode_index": np.full(n, ep_index, np.int64),
        "index": np.arange(first_index, first_index + n, dtype=np.int64),
        "task_index": np.full(n, task_index, np.int64),
    }
    for name, (src, dtype, shape, _) in FEATURES.items():
        cols[name] = ep[src].astype(dtype).reshape(n, *shape)
    return cols


def export_lerobot(
    source: Path | str,
    out: Path | str,
    pick: Callable[[dict[str, Any]], bool] | None = None,
    overwrite: bool = False,
    on_episode: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write the v3.0 layout into `out` (built in a temp folder, renamed when complete)."""
    pa = _pa()
    ds = Dataset(source)
    entries = [e for e in ds.entries() if pick is None or pick(e)]
    if not entries:
        what = "has no episodes" if not ds.entries() else "has no episodes matching the filter"
        raise DatasetError(f"nothing to export: {source} {what}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise DatasetError(f"{out} exists; choose a new folder or pass --overwrite")
    rates = sorted({float(e["control_hz"]) for e in entries})
    if len(rates) > 1:
        raise DatasetError(f"episodes were recorded at {rates} Hz; a LeRobot dataset has one fps: filter by rate first")
    fps = rates[0]
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tasks: dict[str, int] = {}
    ep_rows: list[dict[str, Any]] = []
    all_stats: dict[str, list[np.ndarray]] = {}
    total = 0
    chunk, file, file_bytes, writer = 0, 0, 0, None
    schema = pa.schema(
        [(k, _arrow_type(pa, dt, shp)) for k, (dt, shp) in DEFAULT_FEATURES.items()]
        + [(k, _arrow_type(pa, dt, shp)) for k, (_, dt, shp, _) in FEATURES.items()]
    )
    try:
        for new_index, entry in enumerate(entries):
            ep = ds[int(entry["episode_index"])]
            if len(ep) == 0:
                continue
            text = task_text(ep.meta["task"], ep.meta["shape"])
            task_index = tasks.setdefault(text, len(tasks))
            cols = _episode_columns(ep, new_index, total, task_index)
            n_bytes = sum(v.nbytes for v in cols.values())
            if writer is not None and file_bytes + n_bytes > DATA_FILE_SIZE_MB * 1024 * 1024:
                writer.close()
                writer, file_bytes = None, 0
                chunk, file = (chunk + 1, 0) if file == CHUNKS_SIZE - 1 else (chunk, file + 1)
            if writer is None:
                path = tmp / DATA_PATH.format(chunk_index=chunk, file_index=file)
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pa.parquet.ParquetWriter(path, schema)
            table = pa.table({k: _column(pa, v, *_shape_of(k)) for k, v in cols.items()}, schema=schema)
            writer.write_table(table)
            file_bytes += n_bytes
            row: dict[str, Any] = {
                "episode_index": new_index,
                "tasks": [text],
                "length": len(ep),
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": total,
                "dataset_to_index": total + len(ep),
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "dexscrew/episode_uuid": ep.meta["episode_uuid"],
                "dexscrew/source_episode_index": ep.index,
                "dexscrew/success": ep.meta.get("success"),
            }
            for k, v in cols.items():
                s = _stats(v)
                all_stats.setdefault(k, []).append(v)
                for stat, value in s.items():
                    row[f"stats/{k}/{stat}"] = value
            ep_rows.append(row)
            total += len(ep)
            if on_episode:
                on_episode()
        if writer is not None:
            writer.close()
        if not ep_rows:
            raise DatasetError(f"nothing to export: every selected episode of {source} is empty")
        _write_meta(pa, tmp, fps, tasks, ep_rows, all_stats, total)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        if writer is not None:
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out": str(out), "episodes": len(ep_rows), "frames": total, "tasks": len(tasks), "fps": fps}


def _shape_of(key: str) -> tuple[str, tuple[int, ...]]:
    if key in DEFAULT_FEATURES:
        return DEFAULT_FEATURES[key]
    _, dt, shp, _ = FEATURES[key]
    return dt, shp


def _write_meta(
    pa: Any,
    root: Path,
    fps: float,
    tasks: dict[str, int],
    ep_rows: list[dict[str, Any]],
    all_stats: dict[str, list[np.ndarray]],
    total: int,
) -> None:
    meta = root / "meta"
    (meta / "episodes" / "chunk-000").mkdir(parents=True, exist_ok=True)
    features: dict[str, Any] = {
        name: {"dtype": dt, "shape": list(shp), "names": n} for name, (_, dt, shp, n) in FEATURES.items()
    }
    features.update({k: {"dtype": dt, "shape": list(shp), "names": None} for k, (dt, shp) in DEFAULT_FEATURES.items()})
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": ROBOT_TYPE,
        "total_episodes": len(ep_rows),
        "total_frames": total,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILE_SIZE_MB,
        "video_files_size_in_mb": VIDEO_FILE_SIZE_MB,
        "fps": int(fps) if float(fps).is_integer() else fps,
        "splits": {"train": f"0:{len(ep_rows)}"},
        "data_path": DATA_PATH,
        "video_path": None,
        "features": features,
        "timestamps": "measured: seconds since the episode's first control step (not frame_index / fps)",
    }
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    stats = {k: _stats(np.concatenate(v)) for k, v in all_stats.items()}
    (meta / "stats.json").write_text(json.dumps(stats, allow_nan=True))
    # tasks: a pandas-style table indexed by the task text (what LeRobot's pd.read_parquet expects)
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
        ],
        "pandas_version": "2.0.0",
    }
    names = sorted(tasks, key=tasks.get)
    table = pa.table({"task_index": pa.array([tasks[t] for t in names], pa.int64()), "task": pa.array(names)})
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    pa.parquet.write_table(table, meta / "tasks.parquet")
    episodes = pa.Table.from_pylist(ep_rows)
    pa.parquet.write_table(episodes, root / EPISODES_PATH.format(chunk_index=0, file_index=0))
