"""The LeRobotDataset v3.0 export, validated with pyarrow against the v3.0 layout; LeRobot itself opt-in."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cli import main as cli_main
from dexscrew_sdk.recording import DatasetError, Recorder
from dexscrew_sdk.recording import lerobot as lr
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from tests.conftest import REPO

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

STATS = {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}


def _jittered_dataset(root: Path, episodes: int = 3, steps: int = 30) -> list[np.ndarray]:
    """Episodes whose control steps were NOT on the 50 ms grid (a loaded machine): stamps returned."""
    rng = np.random.default_rng(1)
    stamps = []
    with Recorder(root) as rec:
        for e in range(episodes):
            ep = rec.begin(synthetic_meta("nut" if e != 1 else "screwdriver", "square" if e != 1 else "octagon", e))
            t0 = 10**12  # the sources' stamps start here too, whatever the machine's uptime
            t = np.cumsum(rng.uniform(0.045, 0.070, steps) * 1e9).astype(np.int64) + t0
            for s, ts in zip(synthetic_steps(steps, seed=e, start_ns=t0), t, strict=True):
                ep.append(replace(s, stamp_ns=int(ts)))
            ep.end(success=e != 2).wait()
            stamps.append(t)
    return stamps


def test_the_export_is_a_valid_v3_layout_with_measured_timestamps(tmp_path: Path, capsys) -> None:
    stamps = _jittered_dataset(tmp_path / "ds")
    out = tmp_path / "lerobot"
    assert cli_main(["dataset", "export", str(tmp_path / "ds"), str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes"] == 3 and summary["frames"] == 90

    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 20
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 90, 2)
    assert info["chunks_size"] == 1000 and info["data_files_size_in_mb"] == 100 and info["video_path"] is None
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["splits"] == {"train": "0:3"}
    for name in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][name]["shape"] == [1]
    assert info["features"]["observation.tactile"] == {
        "dtype": "float32",
        "shape": [5, 120, 3],
        "names": ["fingertip", "taxel", "axis"],
    }
    assert (
        info["features"]["action"]["names"][0] == "hand.thumb_bend" and len(info["features"]["action"]["names"]) == 18
    )

    data = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    assert data.num_rows == 90
    for name, ft in info["features"].items():  # every feature's column matches its declared dtype and shape
        t = data.schema.field(name).type
        shape = []
        while pa.types.is_fixed_size_list(t):
            shape.append(t.list_size)
            t = t.value_type
        assert (shape or [1]) == ft["shape"], name
        assert str(t) == {"float32": "float", "int64": "int64"}[ft["dtype"]], name
    cols = data.to_pydict()
    assert cols["index"] == list(range(90))
    assert cols["frame_index"] == [i for _ in range(3) for i in range(30)]
    assert cols["episode_index"] == [e for e in range(3) for _ in range(30)]
    measured = np.concatenate([(s - s[0]) / 1e9 for s in stamps]).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(cols["timestamp"], np.float32), measured)
    grid = np.asarray(cols["frame_index"]) / 20
    assert np.abs(measured - grid).max() > 0.05  # measured, not frame_index / fps
    tactile = np.asarray(cols["observation.tactile"][40], np.float32)
    assert tactile.shape == (5, 120, 3)

    eps = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [(e["dataset_from_index"], e["dataset_to_index"], e["length"]) for e in eps] == [
        (0, 30, 30),
        (30, 60, 30),
        (60, 90, 30),
    ]
    assert all(e["data/chunk_index"] == 0 and e["data/file_index"] == 0 for e in eps)
    assert eps[1]["tasks"] == ["drive the screw with the octagon screwdriver"]
    assert {k.split("/")[-1] for k in eps[0] if k.startswith("stats/action/")} == STATS
    assert eps[2]["dexscrew/success"] is False

    tasks = pq.read_table(out / "meta" / "tasks.parquet")
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]
    assert dict(zip(tasks["task"].to_pylist(), tasks["task_index"].to_pylist(), strict=True)) == {
        "fasten the square nut on the bolt": 0,
        "drive the screw with the octagon screwdriver": 1,
    }
    stats = json.loads((out / "meta" / "stats.json").read_text())
    assert set(stats) == set(info["features"])
    assert set(stats["observation.tactile"]) == STATS
    assert np.asarray(stats["observation.tactile"]["max"]).shape == (5, 120, 3)
    assert stats["index"]["count"] == [90]


def test_data_files_roll_over_past_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _jittered_dataset(tmp_path / "ds", episodes=3, steps=10)
    monkeypatch.setattr(lr, "DATA_FILE_SIZE_MB", 0.1)  # ~76 KB per 10-step episode: one episode per file
    lr.export_lerobot(tmp_path / "ds", tmp_path / "out")
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out" / "data").rglob("*.parquet"))
    assert files == [f"data/chunk-000/file-{i:03d}.parquet" for i in range(3)]
    eps = pq.read_table(tmp_path / "out" / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [e["data/file_index"] for e in eps] == [0, 1, 2]
    assert [pq.read_metadata(tmp_path / "out" / f).num_rows for f in files] == [10, 10, 10]


def test_exporting_an_empty_or_filtered_to_empty_dataset_is_a_clear_error(tmp_path: Path, capsys) -> None:
    Recorder(tmp_path / "empty").close()
    with pytest.raises(DatasetError, match=r"has no episodes$"):
        lr.export_lerobot(tmp_path / "empty", tmp_path / "out")
    _jittered_dataset(tmp_path / "ds", episodes=1, steps=5)
    capsys.readouterr()
    assert cli_main(["dataset", "export", str(tmp_path / "ds"), str(tmp_path / "out"), "--task", "screwdriver"]) == 2
    err = capsys.readouterr().err
    assert "nothing to export" in err and "matching the filter" in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_an_existing_output_is_never_overwritten_silently(tmp_path: Path) -> None:
    _jittered_dataset(tmp_path / "ds", episodes=1, steps=5)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(DatasetError, match="--overwrite"):
        lr.export_lerobot(tmp_path / "ds", tmp_path / "out")
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep"


LEROBOT_PYTHON = os.environ.get("DEXSCREW_LEROBOT_PYTHON", "")


@pytest.mark.skipif(
    not LEROBOT_PYTHON,
    reason="opt-in: set DEXSCREW_LEROBOT_PYTHON to a LeRobot 0.4.x venv's python (docs/recording.md)",
)
def test_lerobots_own_dataset_class_loads_the_export(tmp_path: Path) -> None:
    _jittered_dataset(tmp_path / "ds")
    lr.export_lerobot(tmp_path / "ds", tmp_path / "out")
    script = REPO / "tests" / "recording" / "lerobot_load_check.py"
    out = subprocess.run(
        [LEROBOT_PYTHON, str(script), str(tmp_path / "out")], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["num_frames"] == 90 and result["num_episodes"] == 3
    assert result["timestamps_measured_max_dev_from_grid_s"] > 0.05
