"""`dexscrew train-bc DATASET --out RUN`: arguments to configs, then the runner.

The paper's four variants are one flag each: the default (touch + K = 5 history),
`--no-touch`, `--history 1`, and both. Under `torchrun --nproc_per_node N` the same
command trains with DistributedDataParallel (one process per GPU, or gloo on CPU).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from policies.bc.data import EpisodeFilter, open_dataset
from policies.bc.layout import BCError
from policies.bc.model import parameter_count, preset
from policies.bc.runner import BCRunner, Distributed, RunConfig


def run(args: argparse.Namespace) -> int:
    if args.history < 1 or args.horizon < 1 or args.epochs < 1 or args.batch_size < 1:
        raise BCError("--history, --horizon, --epochs and --batch-size must be >= 1")
    if not 0.0 <= args.val_fraction < 1.0:
        raise BCError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    flt = EpisodeFilter(success_only=not args.all_episodes, tasks=tuple(args.task), shapes=tuple(args.shape))
    data = open_dataset(args.dataset, flt)
    rates = {e.control_hz for e in data.episodes}
    model_cfg = preset(args.preset, history=args.history, horizon=args.horizon, use_touch=not args.no_touch)
    cfg = RunConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_fraction=args.val_fraction,
        seed=args.seed,
        workers=args.workers,
        threads=args.threads,
        control_hz=rates.pop(),
        action_frame=args.action_frame,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
        max_steps=args.max_steps,
    )
    cfg.optim.lr, cfg.optim.weight_decay = args.lr, args.weight_decay
    cfg.optim.warmup_steps, cfg.optim.grad_clip = args.warmup_steps, args.grad_clip
    last = args.out / "checkpoint_last.pt"
    if args.resume and not last.is_file():
        raise BCError(f"--resume: {last} does not exist (train without --resume first)")
    dist = Distributed()
    try:
        runner = BCRunner(data, args.out, model_cfg, cfg, dist, resume=last if args.resume else None)
        if dist.main:
            print(_banner(runner, args), flush=True)
        summary = runner.train()
        dist.wait_for_all()
    finally:
        dist.close()
    if dist.main:
        print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, float) or v == v}))
    return 130 if summary.get("stopped_by_signal") else 0


def _banner(r: BCRunner, args: argparse.Namespace) -> str:
    info: dict[str, Any] = {
        "preset": args.preset,
        "params": parameter_count(r.net),
        "touch": r.model_cfg.use_touch,
        "history": r.model_cfg.history,
        "horizon": r.model_cfg.horizon,
        "action_frame": r.layout.action_frame,
        "episodes_train": len(r.train_eps),
        "episodes_val": len(r.val_eps),
        "windows_train": len(r.train_ds),
        "filter": r.data.identity["filter"]["description"],
        "processes": r.dist.world,
        "device": str(r.dist.device),
        "loader_workers": r.workers,
        "resumed_at": [r.epoch, r.batch_in_epoch] if args.resume else None,
    }
    return "train-bc " + json.dumps(info)
