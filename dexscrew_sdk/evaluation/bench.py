"""`dexscrew bench eval`: evaluation throughput with 1 and with 2 twin workers on the same seeds.

BC + touch + history nut trials of 30 s simulated time (the policy's quality is
not the point: a checkpoint of the default size is trained for a few steps on
a synthetic dataset, so the figure measures inference + twin + bus). The
baseline is the same run with one worker; the ratio is the speed-up. Time
counts from the first trial's start to the last result, so node start-up is
left out (it is reported separately).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dexscrew_sdk import resources
from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.evaluation import seeds
from dexscrew_sdk.evaluation.methods import MethodConfig, check_methods
from dexscrew_sdk.evaluation.results import STATUS_OK, TrialSpec
from dexscrew_sdk.evaluation.runner import Evaluation
from dexscrew_sdk.evaluation.worker import WorkerSetup

METHOD = "bc_touch_hist"
TRIAL_S = 30.0


def synthetic_dataset(root: Path, episodes: int = 4, steps: int = 60, failed: tuple[int, ...] = ()) -> Path:
    """Successful synthetic nut episodes whose targets lie inside the cell's joint limits (a checkpoint
    trained on them passes the deployment's range check on the twin)."""
    import dataclasses

    import numpy as np

    from dexscrew_sdk import joints
    from dexscrew_sdk.recording import Recorder
    from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps

    lo, hi = joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD
    with Recorder(root) as rec:
        for i in range(episodes):
            ep = rec.begin(synthetic_meta("nut", ("square", "triangular")[i % 2], seeds.RECORDING.seed(i)))
            for step in synthetic_steps(steps, i):
                ep.append(dataclasses.replace(step, hand_target_rad=np.clip(step.hand_target_rad, lo, hi)))
            ep.end(success=i not in failed).wait()
    return root


def tiny_checkpoint(work: Path) -> Path:
    """A BC + touch + history checkpoint (default preset) after a few optimiser steps on synthetic episodes."""
    data = synthetic_dataset(work / "data")
    out = work / "bc"
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "train-bc", str(data), "--out", str(out), "--history", "5",
           "--epochs", "1", "--max-steps", "5", "--all-episodes", "--no-progress", "--workers", "0",
           "--seed", str(seeds.BC_TRAINING.start)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DexscrewError(f"bench eval: training the checkpoint failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    for name in ("checkpoint_best.pt", "checkpoint_last.pt"):
        if (out / name).exists():
            return out / name
    raise DexscrewError(f"bench eval: train-bc wrote no checkpoint in {out}")


def timed_run(setup: WorkerSetup, out: Path, specs: list[TrialSpec], workers: int) -> dict[str, Any]:
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    def on_event(e: tuple) -> None:
        now = time.monotonic()
        if e[0] == "started":
            marks.setdefault("first_start", now)
        if e[0] == "result":
            marks["last_result"] = now

    results = Evaluation(setup, out, workers).run(specs, on_event)
    ok = [r for r in results if r.status == STATUS_OK]
    span = marks["last_result"] - marks["first_start"]
    return {
        "trials": len(ok),
        "trials_per_min": round(60.0 * len(ok) / span, 3),
        "startup_s": round(marks["first_start"] - t0, 2),
        "sim_s_per_wall_s": round(sum(r.sim_time_s for r in ok) / span, 2),
        "infra_attempts": sum(r.status != STATUS_OK for r in results),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    n, trial_s = (2, 5.0) if quick else (8, TRIAL_S)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        work = Path(tmp)
        ckpt = tiny_checkpoint(work)
        cfg = MethodConfig([METHOD], checkpoints={METHOD: {"nut": str(ckpt)}})
        check_methods(cfg, {"nut"})
        specs = [
            TrialSpec(METHOD, "nut", ("square", "triangular")[k % 2], seeds.trial_seed(k), trial_s) for k in range(n)
        ]
        config = str(resources.config_path("twin_cell"))
        per: dict[int, dict[str, Any]] = {}
        for workers in (1, 2):
            out = work / f"w{workers}"
            setup = WorkerSetup(config, [], cfg, str(out / "traces"), str(out / "logs"))
            per[workers] = timed_run(setup, out, specs, workers)
    speedup = per[2]["trials_per_min"] / per[1]["trials_per_min"]
    return {
        "bench": "eval",
        "quick": quick,
        "method": METHOD,
        "trial_sim_s": trial_s,
        "trials": n,
        "trials_per_min_1_worker": per[1]["trials_per_min"],
        "trials_per_min_2_workers": per[2]["trials_per_min"],
        "trials_per_min": per[2]["trials_per_min"],
        "speedup_2_vs_1": round(speedup, 3),
        "targets_met": {"speedup_2_vs_1>=1.8": speedup >= 1.8},
        "runs": per,
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
