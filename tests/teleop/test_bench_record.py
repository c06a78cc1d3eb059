"""The twin part of `dexscrew bench record`: what it runs and how it counts (the runs themselves are the
user's `dexscrew record`, tested in test_record_cli.py)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexscrew_sdk.errors import SkillError
from dexscrew_sdk.teleop import bench_record


def test_each_case_is_a_record_command_with_the_skill_the_scene_and_the_imperfections(tmp_path: Path) -> None:
    argv = bench_record._record_argv("nut", "square", "randomised", 3, 180.0, "official", tmp_path, 7, 11)
    assert argv[0] == "record" and argv[argv.index("--skill") + 1] == "official"
    assert "--randomised" in argv and argv[argv.index("--episodes") + 1] == "3"
    assert argv[argv.index("--seconds") + 1] == "180" and argv[argv.index("--operator-seed") + 1] == "11"
    for key, value in bench_record.BENCH_IMPERFECTIONS.items():
        assert argv[argv.index("--" + key.replace("_", "-")) + 1] == f"{value:g}"
    nominal = bench_record._record_argv("nut", "square", "nominal", 3, 180.0, "shipped", tmp_path, 7, 11)
    assert "--randomised" not in nominal


def test_success_counts_only_marked_successes_and_every_case_is_run(monkeypatch, tmp_path: Path) -> None:
    ran: list[list[str]] = []

    def fake_run(argv: list[str]) -> dict[str, Any]:
        ran.append(argv)
        return {"files": [argv[argv.index("--shape") + 1]]}

    def fake_episodes(summary: dict[str, Any]) -> list[dict[str, Any]]:
        shape = summary["files"][0]
        if shape == "triangular":  # one fastened, one ran out of time (unlabelled)
            return [{"success": True, "duration_s": 60.0, "final_progress": {"turns_done": 4.0}},
                    {"success": None, "duration_s": 180.0, "final_progress": {"turns_done": 2.0}}]  # fmt: skip
        return [{"success": False, "duration_s": 20.0, "final_progress": {"turns_done": 0.1}}] * 2

    monkeypatch.setattr(bench_record, "_run_record", fake_run)
    monkeypatch.setattr(bench_record, "_episodes", fake_episodes)
    out = bench_record.success_rates(tmp_path, "official", 2, 180.0, workers=2)
    assert len(ran) == len(bench_record.OBJECTS) * len(bench_record.SCENES)
    rate = out["scripted_success_rate"]
    assert rate["nut/triangular/nominal"] == 0.5 and rate["nut/triangular/randomised"] == 0.5
    assert rate["screwdriver/octagon/nominal"] == 0.0 and set(rate) == set(out["scripted_commands"])
    assert out["scripted_turns_mean"]["nut/triangular/nominal"] == 3.0
    assert out["scripted_success_s_mean"]["nut/triangular/nominal"] == 60.0
    assert out["scripted_success_s_mean"]["nut/square/nominal"] is None
    seeds = {tuple(a[a.index("--seed-index") + 1 : a.index("--seed-index") + 2]) for a in ran}
    assert len(seeds) == len(ran)  # every case on its own scene seeds


def test_a_bad_skill_is_refused_before_anything_runs(monkeypatch) -> None:
    monkeypatch.setattr(bench_record, "_run_record", lambda argv: pytest.fail("ran a recording"))
    with pytest.raises(SkillError, match="unknown skill name"):
        bench_record.run(argparse.Namespace(quick=True, skill="offical", episodes=None))
    with pytest.raises(ValueError, match="--episodes"):
        bench_record.run(argparse.Namespace(quick=True, skill="shipped", episodes=-1))


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 400),
    drop=st.sets(st.integers(1, 398), max_size=30),
    latency=st.lists(st.floats(0.0, 0.02), min_size=400, max_size=400),
)
def test_periods_without_a_row_are_counted_from_the_rows_clock_times(n: int, drop: set[int], latency) -> None:
    """Rows on absolute 50 ms deadlines, each late by up to 20 ms, some periods skipped: each one counted."""
    kept = [k for k in range(n) if k not in drop or k == n - 1]
    t = np.array([0.05 * k + latency[k] for k in kept])
    assert bench_record.rows_without_time(t, 0.05) == len(range(n)) - len(kept)
    assert bench_record.rows_without_time(t[:1], 0.05) == 0


def test_the_real_time_figure_is_a_real_time_record_command_counting_gaps_and_late_rows(
    monkeypatch, tmp_path: Path
) -> None:
    from dexscrew_sdk.recording import Recorder
    from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps

    with Recorder(tmp_path / "ds") as rec:  # one episode with period 3 skipped and one late arm sample
        ep = rec.begin(synthetic_meta(seed=1))
        for s in synthetic_steps(12, seed=1, start_ns=10**12):
            if s.step_index == 3:
                continue
            s.clock_time_s = 0.05 * s.step_index + 0.004
            if s.step_index == 7:
                s.arm = replace(s.arm, stamp_ns=s.stamp_ns - 80_000_000)  # older than one period
            ep.append(s)
        path = ep.end(success=None).wait().path
    ran: list[list[str]] = []

    def fake_run(argv: list[str]) -> dict[str, Any]:
        ran.append(argv)
        return {"files": [str(path)]}

    monkeypatch.setattr(bench_record, "_run_record", fake_run)
    out = bench_record.realtime_dropped_frames(tmp_path, "shipped", 120.0)
    argv = ran[0]
    assert argv[argv.index("--seconds") + 1] == "120" and argv[argv.index("--episodes") + 1] == "2"
    assert "cell.lockstep=false" in argv and argv[argv.index("--shape") + 1] == bench_record.REALTIME_CASE[1]
    assert f"nodes.twin.params.turns_required={bench_record.REALTIME_TURNS:g}" in argv
    detail = out["dropped_frames_detail"]
    assert detail["periods_without_row"] == 1 and detail["rows"] == 11
    assert (
        detail["rows_with_late_or_missing_source"] >= 1
        and out["dropped_frames"] == 1 + detail["rows_with_late_or_missing_source"]
    )
