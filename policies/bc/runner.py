"""The BC training loop: epochs of batches, validation on the EMA network, checkpoints, logs, resume.

One code path for one CPU and for `torchrun` (DistributedDataParallel): `Distributed`
reads torchrun's environment; with one process it is the identity. Only rank 0
writes checkpoints and logs. Ctrl-C (SIGINT) or SIGTERM finishes the current step,
saves `checkpoint_last.pt` with the position inside the epoch, and returns; resuming
continues at the next batch with the same shuffling.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch

from policies.bc import checkpoint
from policies.bc.algorithm import BehaviourCloning, OptimConfig
from policies.bc.data import BCData
from policies.bc.layout import BCError, BCLayout
from policies.bc.model import BCNet, ModelConfig
from policies.bc.normalise import Normaliser
from policies.bc.policy import TorchNormaliser
from policies.bc.windows import EpochBatches, WindowDataset


@dataclass
class RunConfig:
    epochs: int = 100
    batch_size: int = 128
    val_fraction: float = 0.1
    eval_every: int = 1  # epochs
    seed: int = 200_000  # seeds.BC_TRAINING.start
    workers: int = -1  # DataLoader workers per process; -1: one per spare core (see default_workers)
    threads: int = -1  # torch threads per process; -1: the cores left after loader workers, shared by processes
    control_hz: float = 20.0
    action_frame: str = "relative"  # layout.ACTION_FRAMES: targets minus the newest joints, or as recorded
    progress: bool = True
    tensorboard: bool = True
    max_steps: int = 0  # stop after this many optimiser steps in total (0: no limit); tests and benches
    optim: OptimConfig = field(default_factory=OptimConfig)


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers(world: int) -> int:
    """One loader worker per process when a core is spare for it (2 cores, 1 process: 1 worker)."""
    return 1 if usable_cores() >= 2 * world else 0


def default_threads(world: int, workers: int) -> int:
    """Never more compute threads than free cores: oversubscribed OpenMP threads spin against each
    other (measured: 2 threads on 2 busy cores made a small training 18x slower than 1).

    An OMP_NUM_THREADS set by the caller caps it: whoever runs trainings side by side (the demo
    pipeline, torchrun) knows the cores are shared, and this process alone cannot see that."""
    free = max(1, usable_cores() // world - workers)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(free, int(env)) if env.isdigit() and int(env) > 0 else free


class Distributed:
    """torchrun's RANK/WORLD_SIZE/LOCAL_RANK; gloo on CPU, nccl on CUDA; identity for one process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{self.local_rank}" if cuda else "cpu")
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if cuda else "gloo")
            if cuda:
                torch.cuda.set_device(self.device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        ids = [self.local_rank] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any (so all ranks stop at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def mean(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return (t / self.world).tolist()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def wait_for_all(self) -> None:
        """Rank 0 still writes the checkpoint when the others finish; tearing gloo down under a peer that is
        not done aborts the process at exit, so ranks that finished cleanly leave together."""
        if self.world > 1:
            torch.distributed.barrier()


class _StopRequest:
    """SIGINT/SIGTERM set a flag; the loop stops after the current step and saves."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> _StopRequest:
        for s in (signal.SIGINT, signal.SIGTERM):
            self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def _ignore_interrupts(_worker_id: int) -> None:
    """Ctrl-C reaches the whole process group: workers keep serving until the main process stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def split_episodes(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Episode-level split (windows of one episode never straddle train and validation)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = 0 if n < 2 else max(1, round(val_fraction * n)) if val_fraction > 0 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


class BCRunner:
    def __init__(
        self,
        data: BCData,
        out: Path,
        model_cfg: ModelConfig,
        cfg: RunConfig,
        dist: Distributed | None = None,
        resume: Path | None = None,
    ) -> None:
        self.data, self.out, self.cfg, self.model_cfg = data, Path(out), cfg, model_cfg
        self.dist = dist or Distributed()
        self.layout = BCLayout(
            history=model_cfg.history,
            horizon=model_cfg.horizon,
            control_hz=cfg.control_hz,
            use_touch=model_cfg.use_touch,
            action_frame=cfg.action_frame,
        )
        relative = self.layout.relative_actions
        torch.manual_seed(cfg.seed + self.dist.rank)
        train_ids, val_ids = split_episodes(len(data.episodes), cfg.val_fraction, cfg.seed)
        self.train_eps = [data.episodes[i] for i in train_ids]
        self.val_eps = [data.episodes[i] for i in val_ids]
        state = checkpoint.load_raw(resume) if resume is not None else None
        if state is not None:
            self._check_resume(state, resume)
            self.normaliser = Normaliser.from_dict(state["normaliser"])
        else:
            touch = model_cfg.use_touch
            self.normaliser = Normaliser.fit(
                ((e.q, e.tactile if touch else None, e.action) for e in self.train_eps),
                sum(len(e) for e in self.train_eps),
                relative_horizon=model_cfg.horizon if relative else 0,
            )
        dev = self.dist.device
        self.net = BCNet(model_cfg).to(dev)
        if state is not None:
            self.net.load_state_dict(state["model"])
        self.norm = TorchNormaliser(self.normaliser, dev)
        k, h, touch = model_cfg.history, model_cfg.horizon, model_cfg.use_touch
        self.train_ds = WindowDataset(self.train_eps, k, h, touch, relative)
        self.val_ds = WindowDataset(self.val_eps, k, h, touch, relative)
        self.sampler = EpochBatches(len(self.train_ds), cfg.batch_size, cfg.seed, self.dist.rank, self.dist.world)
        if self.sampler.batches_per_epoch() == 0:
            raise BCError(f"{len(self.train_ds)} training windows cannot be split between {self.dist.world} processes")
        cfg.optim.total_steps = cfg.epochs * self.sampler.batches_per_epoch()
        self.algo = BehaviourCloning(self.dist.wrap(self.net), self.net, self.norm, cfg.optim)
        self.epoch, self.batch_in_epoch, self.best_val = 0, 0, math.inf
        if state is not None:
            self.algo.load_state_dict(state["training"], state["ema"])
            self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
            self.best_val = float(state["best_val"])
        workers = default_workers(self.dist.world) if cfg.workers < 0 else cfg.workers
        if self.dist.device.type == "cpu":
            torch.set_num_threads(default_threads(self.dist.world, workers) if cfg.threads < 0 else cfg.threads)
        self.loader = torch.utils.data.DataLoader(
            self.train_ds,
            sampler=self.sampler,
            batch_size=None,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            pin_memory=dev.type == "cuda",
            worker_init_fn=_ignore_interrupts,
        )
        self.workers = workers
        self.wait_s = self.step_s = 0.0  # time blocked on the loader vs whole steps (loader share)

    def _check_resume(self, state: dict[str, Any], path: Path | None) -> None:
        ours = (self.model_cfg.to_dict(), self.data.identity.get("index_sha256"))
        theirs = (state["model_config"], state["dataset"].get("index_sha256"))
        if ours[0] != theirs[0]:
            raise BCError(f"{path}: cannot resume with a different model (preset, K, touch): {theirs[0]} != {ours[0]}")
        if ours[1] != theirs[1]:
            raise BCError(f"{path}: cannot resume on a different dataset (index hash {theirs[1]} != {ours[1]})")
        frame = state.get("layout", {}).get("action_frame", "absolute")
        if frame != self.layout.action_frame:
            raise BCError(f"{path}: cannot resume with {self.layout.action_frame} actions: it was trained on {frame}")

    # ------------------------------------------------------------------ loop
    def train(self) -> dict[str, Any]:
        main, cfg = self.dist.main, self.cfg
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        writer = self._writer() if main else None
        summary: dict[str, Any] = {}
        interrupted = by_signal = False
        try:
            with _StopRequest() as stop, open(os.devnull if not main else self.out / "log.jsonl", "a") as logf:
                while self.epoch < cfg.epochs and not interrupted:
                    self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
                    bar = self._bar(len(self.sampler))
                    losses: list[float] = []
                    t_last = time.perf_counter()
                    for batch in self.loader:
                        t_got = time.perf_counter()
                        stats = self.algo.update(
                            {k: v.to(self.dist.device, non_blocking=True) for k, v in batch.items()}
                        )
                        t_done = time.perf_counter()
                        self.wait_s += t_got - t_last
                        self.step_s += t_done - t_last
                        t_last = t_done
                        self.batch_in_epoch += 1
                        if not stats["skipped"]:
                            losses.append(stats["loss"])
                        if writer is not None:
                            for k, v in stats.items():
                                writer.add_scalar(f"train/{k}", v, self.algo.step + self.algo.skipped)
                        if bar is not None:
                            bar.set_postfix(
                                loss=f"{stats['loss']:.4f}", lr=f"{stats['lr']:.2e}", skipped=self.algo.skipped
                            )
                            bar.update()
                        limit = bool(cfg.max_steps and self.algo.step >= cfg.max_steps)
                        if self.dist.any(stop.requested or limit):
                            interrupted, by_signal = True, self.dist.any(stop.requested)
                            break
                    if bar is not None:
                        bar.close()
                    if not interrupted:
                        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                    summary = self._end_of_epoch(losses, interrupted, writer, logf)
        finally:
            if writer is not None:
                writer.close()
        if interrupted and main:
            self.save("last")
            why = "interrupted" if by_signal else f"reached --max-steps {cfg.max_steps}"
            print(
                f"{why} at epoch {self.epoch} batch {self.batch_in_epoch}: saved {self.out / 'checkpoint_last.pt'}; "
                f"continue with --resume",
                flush=True,
            )
        summary["interrupted"] = interrupted
        summary["stopped_by_signal"] = by_signal
        return summary

    def _end_of_epoch(self, losses: list[float], interrupted: bool, writer: Any, logf: Any) -> dict[str, Any]:
        (train_loss,) = self.dist.mean([float(np.mean(losses)) if losses else math.nan])
        row: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.algo.step,
            "train_loss": train_loss,
            "skipped_steps": self.algo.skipped,
            "loader_share": self.wait_s / self.step_s if self.step_s else math.nan,
        }
        if not interrupted and (self.epoch % self.cfg.eval_every == 0 or self.epoch == self.cfg.epochs):
            val, val_rad2 = self.validate()
            row.update(val_loss=val, val_rmse_rad=math.sqrt(val_rad2) if math.isfinite(val_rad2) else math.nan)
            score = val if math.isfinite(val) else train_loss
            if self.dist.main:
                if score < self.best_val:
                    self.best_val = score
                    self.save("best")
                self.save("last")
        if self.dist.main:
            row["best_val"] = self.best_val
            logf.write(json.dumps(row) + "\n")
            logf.flush()
            if writer is not None:
                for k in ("train_loss", "val_loss", "val_rmse_rad", "loader_share"):
                    if k in row:
                        writer.add_scalar(f"epoch/{k}", row[k], self.epoch)
        return row

    def validate(self) -> tuple[float, float]:
        """Mean EMA loss over every validation window (every rank computes the same numbers)."""
        if len(self.val_ds) == 0:
            return math.nan, math.nan
        total, total_rad2, n = 0.0, 0.0, 0
        for start in range(0, len(self.val_ds), self.cfg.batch_size):
            idx = np.arange(start, min(start + self.cfg.batch_size, len(self.val_ds)))
            batch = {k: v.to(self.dist.device) for k, v in self.val_ds[idx].items()}
            loss, rad2 = self.algo.evaluate(batch)
            total, total_rad2, n = total + loss * len(idx), total_rad2 + rad2 * len(idx), n + len(idx)
        return total / n, total_rad2 / n

    # ------------------------------------------------------------ artefacts
    def payload(self) -> dict[str, Any]:
        ids = lambda eps: [{"name": e.name, "uuid": e.uuid, "index": e.index, "steps": len(e)} for e in eps]  # noqa: E731
        return {
            "layout": self.layout.to_dict(),
            "model_config": self.model_cfg.to_dict(),
            "normaliser": self.normaliser.to_dict(),
            "model": self.net.state_dict(),
            "ema": self.algo.ema.module.state_dict(),
            "dataset": {**self.data.identity, "train_episodes": ids(self.train_eps), "val_episodes": ids(self.val_eps)},
            "training": self.algo.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_val": self.best_val,
            "run": {
                "seed": self.cfg.seed,
                "seed_purpose": "bc_training",
                "epochs": self.cfg.epochs,
                "batch_size": self.cfg.batch_size,
                "world_size": self.dist.world,
                "optim": {k: v for k, v in vars(self.cfg.optim).items()},
            },
        }

    def save(self, which: str) -> Path:
        return checkpoint.save(self.out / f"checkpoint_{which}.pt", self.payload())

    def _writer(self) -> Any:
        if not self.cfg.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("tensorboard is not installed (pip install 'dexscrew-sdk[learning]'): logging to log.jsonl only")
            return None
        return SummaryWriter(str(self.out / "tb"))

    def _bar(self, total: int) -> Any:
        if not (self.cfg.progress and self.dist.main):
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", unit="batch", leave=False)
