"""`dexscrew bench bc`: policy-step latency per preset and training throughput from episode files.

Inference (one core, `torch.set_num_threads(1)`): `infer_p99_ms` is one deployed policy
step with the default backend (`backend` says which, ONNX Runtime when installed:
normalisation of a raw 18-D + 5x120x3 observation, history update, the network,
de-normalisation), against the bare forward pass (the same network on an
already-normalised history, all K steps encoded) and the same step on torch
(`torch_infer_*`, cached encodings, `stepnet.py`), interleaved in the same run;
`eager_forward_*` is the `BCNet` module itself on that history, for the speed-up.
Training (default preset, batch 128, >= 50 recorded episode files read
through the real loader with the workers and threads chosen for this machine):
`train_samples_per_s` and `loader_share` (time blocked waiting for a batch / step
time), against the same model and optimiser fed batches already in memory.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from policies.bc.checkpoint import LoadedPolicy
from policies.bc.config import preset
from policies.bc.data import EpisodeFilter, open_dataset, synthetic_episodes
from policies.bc.layout import BCLayout
from policies.bc.model import BCNet, parameter_count
from policies.bc.normalise import Normaliser
from policies.bc.policy import BCPolicy
from policies.bc.runner import BCRunner, RunConfig


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def bench_inference(name: str, steps: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = preset(name)
    net = BCNet(cfg).eval()
    eps = synthetic_episodes(2, 100, seed=0)
    norm = Normaliser.fit([(e.q, e.tactile, e.action) for e in eps], 200)
    loaded = LoadedPolicy(net, BCLayout(), norm, cfg, {}, Path("<bench>"))
    t0 = time.perf_counter()
    policy = BCPolicy(loaded)  # the deployed default ("auto")
    load_s = time.perf_counter() - t0
    torch_policy = BCPolicy(loaded, backend="torch")  # the same step on torch: the same-run baseline
    rng = np.random.default_rng(0)
    q = [row.astype(np.float64) for row in eps[0].q]  # 100 observations, cycled
    touch = [rng.uniform(0, 2, (5, 120, 3)).astype(np.float32) for _ in range(64)]
    for i in range(10):  # warm-up
        policy.act(q[i % len(q)], touch[i % len(touch)])
        torch_policy.act(q[i % len(q)], touch[i % len(touch)])
    step_s, fwd_s, torch_s = [], [], []
    for i in range(steps):  # interleaved, so both see the machine in the same state
        obs = q[i % len(q)], touch[i % len(touch)]
        t0 = time.perf_counter()
        policy.act(*obs)
        step_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        policy.forward_only()
        fwd_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        torch_policy.act(*obs)
        torch_s.append(time.perf_counter() - t0)
    hq, ht = policy.history
    args = (hq[None], None if ht is None else ht[None])
    eager_s = []
    with torch.inference_mode():
        for _ in range(max(3, steps // 5)):
            t0 = time.perf_counter()
            net(*args)
            eager_s.append(time.perf_counter() - t0)
    step, fwd, eager = _percentiles(step_s), _percentiles(fwd_s), _percentiles(eager_s)
    on_torch = _percentiles(torch_s)
    return {
        "params": parameter_count(net),
        "backend": policy.backend_choice,
        "load_s": round(load_s, 2),
        "infer_p50_ms": step["p50_ms"],
        "infer_p99_ms": step["p99_ms"],
        "forward_p50_ms": fwd["p50_ms"],
        "forward_p99_ms": fwd["p99_ms"],
        "infer_over_forward_p99": round(step["p99_ms"] / fwd["p99_ms"], 3),
        "torch_infer_p50_ms": on_torch["p50_ms"],
        "torch_infer_p99_ms": on_torch["p99_ms"],
        "infer_over_torch_p99": round(step["p99_ms"] / on_torch["p99_ms"], 3),
        "eager_forward_p50_ms": eager["p50_ms"],
        "eager_forward_p99_ms": eager["p99_ms"],
        "steps": steps,
    }


def _record(root: Path, episodes: int, steps: int) -> float:
    from dexscrew_sdk.recording.synthetic import record_synthetic_dataset

    t0 = time.perf_counter()
    record_synthetic_dataset(root, episodes=episodes, steps=steps, fsync="episode")
    return time.perf_counter() - t0


def _timed_steps(runner: BCRunner, batches: Any, warmup: int, steps: int) -> tuple[float, float, int]:
    """(seconds waiting for batches, seconds of whole steps, steps) after `warmup` untimed steps."""
    it = iter(batches)
    for _ in range(warmup):
        runner.algo.update(next(it))
    wait = total = 0.0
    t_last = time.perf_counter()
    for _ in range(steps):
        batch = next(it)
        t_got = time.perf_counter()
        runner.algo.update(batch)
        t_done = time.perf_counter()
        wait, total, t_last = wait + t_got - t_last, total + t_done - t_last, t_done
    return wait, total, steps


def bench_training(episodes: int, episode_steps: int, steps: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_bc_") as tmp:
        root = Path(tmp) / "demos"
        record_s = _record(root, episodes, episode_steps)
        data = open_dataset(root, EpisodeFilter(success_only=False))
        cfg = RunConfig(epochs=1000, batch_size=batch, val_fraction=0.0, progress=False, tensorboard=False)
        runner = BCRunner(data, Path(tmp) / "run", preset("default"), cfg)
        wait, total, n = _timed_steps(runner, _cycle(runner.loader, runner.sampler), 3, steps)
        files = {
            "episodes": len(data.episodes),
            "frames": data.frames,
            "record_s": round(record_s, 2),
            "loader_workers": runner.workers,
            "torch_threads": torch.get_num_threads(),
            "train_samples_per_s": round(n * batch / total, 1),
            "loader_share": round(wait / total, 4),
        }
        # the same model and optimiser, batches already in memory (copies of real batches)
        mem = [runner.train_ds[idx] for idx in list(runner.sampler)[:8]]
        wait_m, total_m, n_m = _timed_steps(runner, _repeat(mem), 3, steps)
        del runner
    in_memory = {"train_samples_per_s": round(n_m * batch / total_m, 1), "loader_share": round(wait_m / total_m, 4)}
    files["in_memory_over_files"] = round(in_memory["train_samples_per_s"] / files["train_samples_per_s"], 3)
    return {"files": files, "in_memory": in_memory, "batch_size": batch, "preset": "default", "timed_steps": steps}


def _cycle(loader: Any, sampler: Any) -> Any:
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def _repeat(batches: list[dict[str, torch.Tensor]]) -> Any:
    while True:
        yield from batches


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    presets = {name: bench_inference(name, 30 if quick else 500) for name in ("default", "paper")}
    episodes, episode_steps = (50, 20) if quick else (60, 400)
    training = bench_training(episodes, episode_steps, steps=3 if quick else 40, batch=128)
    return {
        "bench": "bc",
        "quick": quick,
        "presets": presets,
        "training": training,
        "targets": {"default_infer_p99_ms": 2.0, "paper_infer_p99_ms": 50.0, "loader_share": 0.1},
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_1m": os.getloadavg()[0],
    }


__all__ = ["bench_inference", "bench_training", "run"]
