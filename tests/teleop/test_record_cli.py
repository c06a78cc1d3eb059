"""`dexscrew record` end to end: scripted nut episodes on the lockstep twin, and the World-free script on
the hardware-in-the-loop cell (the real UR5e driver over ur_rtde to the UR emulator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import resources
from dexscrew_sdk.ports import free_base_port
from dexscrew_sdk.recording import OperatorEvent, load_episode

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _record(args: list[str], timeout_s: float = 240.0) -> dict:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "record", *args]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check_structure(ep, cell_kind: str) -> np.ndarray:
    d = ep.data
    n = len(d["step_index"])
    assert n > 20 and (np.diff(d["step_index"]) == 1).all()
    assert (np.diff(d["stamp_ns"]) > 0).all() and (np.diff(d["clock_time_s"]) > 0).all()
    for src in ("arm", "hand", "tactile"):
        assert (d[f"{src}_stamp_ns"] > 0).all(), f"{src} samples carry their producer's stamps"
        assert (d[f"{src}_seq"] >= 0).all()
    assert np.isfinite(d["action_rad"]).all() and d["action_rad"].shape == (n, 18)
    assert d["tactile_force_n"].shape == (n, 5, 120, 3) and d["tactile_force_n"].dtype == np.float32
    skill = d["skill_on"].astype(bool)
    assert skill.any() and not skill[0], "the skill was switched on after the grasp"
    assert (d["operator_events"] & OperatorEvent.SKILL_START).any()
    assert d["operator_events"][0] & OperatorEvent.GRASP_PRESET
    assert ep.meta["cell_kind"] == cell_kind and ep.meta["operator_params"]["tool_offset"]
    return d


def test_record_scripted_nut_episodes_on_the_lockstep_twin(tmp_path: Path) -> None:
    out = tmp_path / "nut_square"
    port = free_base_port()
    summary = _record(["--cell", "twin_cell", "--set", f"nodes.twin.base_port={port}", "--operator", "scripted",
                       "--task", "nut", "--shape", "square", "--episodes", "2", "--seconds", "4",
                       "--jitter-m", "0.0002", "--operator-seed", "5", "--out", str(out)])  # fmt: skip
    assert summary["episodes_kept"] == 2 and len(summary["files"]) == 2
    seeds, labels = [], []
    for path in summary["files"]:
        ep = load_episode(path)
        labels.append(ep.meta["success"])
        d = _check_structure(ep, "twin")
        assert np.isfinite(d["turns_done"]).all() and np.isfinite(d["progress_ratio"]).all()  # progress read
        assert ep.meta["task"] == "nut" and ep.meta["shape"] == "square" and ep.meta["operator_device"] == "scripted"
        imp = ep.meta["operator_params"]["script"]["imperfections"]
        assert imp["jitter_m"] == 0.0002 and imp["seed"] == 5
        assert ep.meta["final_progress"] is not None and ep.meta["cell_config_hash"]
        assert ep.meta["skill"] == summary["skill"] and ep.meta["skill"]["choice"] == "shipped"  # the default
        assert ep.meta["skill"]["backend"] == "numpy"  # the shipped export's graph runs in numpy
        assert (
            ep.meta["skill"]["sha256"]
            == json.loads((resources.shipped_skill("nut") / "skill.json").read_text())["sha256"]
        )
        seeds.append(ep.meta["seed"])
    assert seeds[0] != seeds[1] and all(100_000 <= s < 200_000 for s in seeds)  # the recording seed range
    # the summary counts the episodes as marked: a time-limited one is neither success nor failure
    assert summary["unlabelled"] == labels.count(None) and summary["successes"] == labels.count(True)
    assert summary["failures"] == labels.count(False)
    marked = labels.count(True) + labels.count(False)
    assert summary["success_rate"] == (labels.count(True) / marked if marked else None)


def test_record_with_the_world_free_script_on_the_hil_cell(tmp_path: Path) -> None:
    sets = []
    for node in ("cell", "arm"):
        sets += ["--set", f"nodes.{node}.base_port={free_base_port()}"]
    summary = _record(["--cell", "hil_cell", *sets, "--operator", "scripted", "--episodes", "1", "--seconds", "4",
                       "--out", str(tmp_path / "hil")])  # fmt: skip
    assert summary["operator"] == "rehearsal" and summary["episodes_kept"] == 1
    ep = load_episode(summary["files"][0])
    d = _check_structure(ep, "hil")
    assert np.isnan(d["turns_done"]).all()  # no World on a real (or emulated) controller
    arm_q = d["q_rad"][:, 12:]
    assert np.ptp(arm_q, axis=0).max() > 1e-3  # the real driver moved the emulated arm
    assert ep.meta["seed"] is None


def test_teleop_drives_the_twin_without_recording(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "teleop", "--cell", "twin_cell", "--set",
           f"nodes.twin.base_port={free_base_port()}", "--operator", "scripted", "--seconds", "2"]  # fmt: skip
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["verb"] == "teleop" and summary["steps"] == 40 and summary["files"] == []
    assert not any(tmp_path.iterdir())  # nothing written anywhere


def test_record_names_a_bad_cell_and_operator() -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "record", "--cell", "no_such_cell", "--operator", "scripted"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no_such_cell" in out.stderr and "twin_cell" in out.stderr
    cmd[-1] = "telepathy"
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice: 'telepathy'" in out.stderr


def test_lockstep_recordings_wait_as_long_as_the_clock_before_calling_a_source_silent() -> None:
    from types import SimpleNamespace

    from dexscrew_sdk.teleop.cli import source_silence_s

    lockstep = SimpleNamespace(config=SimpleNamespace(lockstep=True), clock=SimpleNamespace(timeout_s=10.0))
    realtime = SimpleNamespace(config=SimpleNamespace(lockstep=False), clock=SimpleNamespace())
    assert source_silence_s(lockstep) == 10.0  # a slow tick is not a silent device ...
    assert source_silence_s(realtime) == 1.0  # ... while in real time 1 s of silence is
