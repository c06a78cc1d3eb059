"""`dexscrew bench record`: the recorder's storage figures on synthetic 20 Hz steps with tactile.

- dropped_frames_synthetic: in a real-time paced episode of synthetic sources, control steps with no
  row plus rows in which any source's newest sample is older than one control period (late) or
  missing. The twin hook's `dropped_frames` is the same count on the twin cell's own devices in
  real time; without the twin, `dropped_frames` is this one (`dropped_frames_source` says which).
- finalize_ms_p99: from `end()` until the episode file is fsynced, renamed and in the index
  (background work included), over full-length episodes.
- step_overhead_ms_p99: the recorder's cost per control step (the `append` call) in the real-time
  episode with the default policy (fsync per episode), next to the same loop's own step work
  without the recorder (ratio); fsync per step is reported separately.
Twin figures (lockstep_record_rtf, full_twin_rtf, scripted_success_rate) come from the modules
in TWIN_HOOKS when they are installed: each `run(args) -> dict` is merged into the result.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk.clock import RealTimeClock
from dexscrew_sdk.recording.episode import read_meta
from dexscrew_sdk.recording.recorder import Recorder
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from dexscrew_sdk.records import ArmState, HandState, TactileFrame

TWIN_HOOKS: tuple[str, ...] = ("dexscrew_sdk.teleop.bench_record:run",)
CONTROL_HZ = 20.0


def _p99(x: list[float]) -> float:
    return float(np.percentile(np.asarray(x), 99)) if x else float("nan")


def _restamp(step: Any, stamp_ns: int, index: int) -> Any:
    """A synthetic step re-stamped as if its sources had just been read at `stamp_ns`."""
    step.step_index, step.stamp_ns = index, stamp_ns
    a, h, t = step.arm, step.hand, step.tactile
    step.arm = ArmState(a.seq, stamp_ns - 1_000_000, a.q_rad, a.qd_rad_s, a.tcp_pose, a.tcp_force_n, a.mode, a.cmd_seq)
    step.hand = HandState(h.seq, stamp_ns - 1_000_000, h.q_rad, h.torque_nm, h.mode, h.cmd_seq)
    step.tactile = TactileFrame(t.seq, stamp_ns - 1_000_000, t.force_n)
    return step


def paced_episode(root: Path, seconds: float) -> dict[str, Any]:
    """A real-time 20 Hz episode, begun while the previous one is still being finalised (as between
    two demonstrations): what a slow disk or a stalled recorder would drop, and the per-step cost."""
    n = round(seconds * CONTROL_HZ)
    work_ms, append_ms = [], []
    with Recorder(root / "paced") as rec:
        warm = rec.begin(synthetic_meta(seed=1))
        for step in synthetic_steps(200, seed=1):
            warm.append(step)
        warm.end(success=True)  # its finalisation overlaps the first steps below
        ep = rec.begin(synthetic_meta())
        clock = RealTimeClock(1.0 / CONTROL_HZ)
        t0, last = time.monotonic(), -1
        for step in synthetic_steps(n):
            last = max(last + 1, round((time.monotonic() - t0) * CONTROL_HZ))  # a skipped period leaves a gap
            if last >= n:
                break
            ta = time.perf_counter()
            s = _restamp(step, time.monotonic_ns(), last)  # the loop's own work: reading the sources
            tb = time.perf_counter()
            ep.append(s)
            tc = time.perf_counter()
            work_ms.append((tb - ta) * 1e3)
            append_ms.append((tc - tb) * 1e3)
            clock.wait()
        done = ep.end(success=True).wait()
    m = read_meta(done.path)
    return {
        "paced_steps": n,
        "paced_rows": m["n_steps"],
        "dropped_frames_synthetic": int(n - m["n_steps"]) + int(m["steps_with_late_or_missing"]),
        "paced_clock_overruns": clock.overruns,
        "work": work_ms,
        "append": append_ms,
    }


def unpaced(root: Path, episodes: int, steps: int, fsync: str) -> dict[str, list[float]]:
    """Per-step `append` times as fast as possible, and each episode's finalisation time measured
    with the control thread idle (at 20 Hz it is idle more than 95 % of the time)."""
    append_ms, finalize, begin, size = [], [], [], []
    with Recorder(root / f"unpaced_{fsync}", fsync=fsync) as rec:
        for e in range(episodes):
            t = time.perf_counter()
            ep = rec.begin(synthetic_meta(seed=e))
            begin.append((time.perf_counter() - t) * 1e3)
            for step in synthetic_steps(steps, seed=e):
                s = _restamp(step, time.monotonic_ns(), step.step_index)
                ta = time.perf_counter()
                ep.append(s)
                append_ms.append((time.perf_counter() - ta) * 1e3)
            done = ep.end(success=True).wait()
            finalize.append(done.finalize_ms)
            size.append(float(done.path.stat().st_size))
    return {"append": append_ms, "finalize": finalize, "begin": begin, "size": size}


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    seconds = 5.0 if quick else 120.0  # 2 minutes at 20 Hz with tactile
    episodes = 3 if quick else 10
    steps = 200 if quick else round(120 * CONTROL_HZ)
    with tempfile.TemporaryDirectory(prefix="dexscrew-bench-record-") as tmp:
        root = Path(tmp)
        paced = paced_episode(root, seconds)
        ep = unpaced(root, episodes, steps, "episode")
        fs = unpaced(root, 1, min(steps, 400), "step")
    work, append = paced.pop("work"), paced.pop("append")
    base_p99 = _p99(work)
    with_p99 = _p99([w + a for w, a in zip(work, append, strict=True)])
    result: dict[str, Any] = {
        "bench": "record",
        "quick": quick,
        **paced,
        "episodes": episodes,
        "steps_per_episode": steps,
        "episode_bytes": int(max(ep["size"])),
        "finalize_ms_p99": round(_p99(ep["finalize"]), 2),
        "finalize_ms_max": round(max(ep["finalize"]), 2),
        "begin_ms_max": round(max(ep["begin"]), 3),
        "step_overhead_ms_p99": round(_p99(append), 4),
        "loop_step_ms_p99_without_recorder": round(base_p99, 4),
        "loop_step_ms_p99_with_recorder": round(with_p99, 4),
        "loop_step_ratio_with_vs_without": round(with_p99 / base_p99, 3) if base_p99 > 0 else None,
        "append_ms_p99_unpaced": round(_p99(ep["append"]), 4),
        "step_overhead_ms_p99_fsync_per_step": round(_p99(fs["append"]), 4),
        "targets": {"dropped_frames": 0, "finalize_ms_p99": 200, "step_overhead_ms_p99": 2},
        "loadavg_1m": os.getloadavg()[0],
    }
    for target in TWIN_HOOKS:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            result.setdefault("twin_figures", "not installed: " + module_name)
            continue
        result.update(getattr(module, attr)(args))
    result["dropped_frames_source"] = "twin_realtime" if "dropped_frames" in result else "synthetic"
    result.setdefault("dropped_frames", result["dropped_frames_synthetic"])
    result["loadavg_1m"] = os.getloadavg()[0]
    return result
