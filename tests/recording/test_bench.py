"""`dexscrew bench record` measures what it says (a short run; figures are not asserted: the machine is shared)."""

from __future__ import annotations

from pathlib import Path

from dexscrew_sdk.recording import bench
from dexscrew_sdk.recording.dataset import Dataset


def test_the_paced_episode_counts_rows_against_control_steps(tmp_path: Path) -> None:
    r = bench.paced_episode(tmp_path, seconds=0.5)
    assert r["paced_steps"] == 10
    assert 0 < r["paced_rows"] <= 10 and r["dropped_frames_synthetic"] >= 10 - r["paced_rows"]
    assert len(r["work"]) == len(r["append"]) == r["paced_rows"]
    assert len(Dataset(tmp_path / "paced")) == 2  # the warm-up episode finalised while the paced one ran


def test_the_unpaced_runs_time_every_step_and_every_finalisation(tmp_path: Path) -> None:
    r = bench.unpaced(tmp_path, episodes=2, steps=15, fsync="episode")
    assert len(r["append"]) == 30
    assert len(r["finalize"]) == 2 and all(ms > 0 for ms in r["finalize"])
    assert len(r["begin"]) == 2 and len(Dataset(tmp_path / "unpaced_episode")) == 2
