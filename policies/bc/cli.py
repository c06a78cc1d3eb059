"""Verbs of behaviour cloning: `dexscrew train-bc` and `dexscrew run-policy`."""

from __future__ import annotations

import argparse
from pathlib import Path

from dexscrew_sdk.errors import DexscrewError
from policies.bc.config import PRESETS
from policies.bc.layout import ACTION_FRAMES

DEFAULT_SEED = 200_000  # dexscrew_sdk.evaluation.seeds.BC_TRAINING.start


def _train_bc(args: argparse.Namespace) -> int:
    from policies.bc.train import run

    try:
        return run(args)
    except ImportError as exc:
        raise DexscrewError(
            f"train-bc needs the learning extra (pip install 'dexscrew-sdk[learning]'): {exc}"
        ) from None


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", type=Path, help="recorded dataset folder (dexscrew record ...)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint_{best,last}.pt, log.jsonl, tb/")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="model size (paper: the paper's)")
    p.add_argument("--no-touch", action="store_true", help="ablation: joint positions only")
    p.add_argument("--history", type=int, default=5, help="K observation steps (1: the no-history ablation)")
    p.add_argument("--horizon", type=int, default=16, help="H action steps per chunk")
    p.add_argument(
        "--action-frame",
        choices=ACTION_FRAMES,
        default="relative",
        help="relative: targets minus the newest joint positions (default); absolute: targets as recorded",
    )
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=128, help="per process")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of episodes held out for validation")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="training seed (BC training range)")
    p.add_argument("--workers", type=int, default=-1, help="loader workers per process (-1: one per spare core)")
    p.add_argument(
        "--threads",
        type=int,
        default=-1,
        help="torch threads per process (-1: the cores left over, at most OMP_NUM_THREADS if set)",
    )
    p.add_argument("--all-episodes", action="store_true", help="train on every episode, not only successful ones")
    p.add_argument("--task", action="append", default=[], help="keep only this task (repeatable)")
    p.add_argument("--shape", action="append", default=[], help="keep only this shape (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint_last.pt")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many optimiser steps (0: no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-tensorboard", action="store_true")


def add_run_args(p: argparse.ArgumentParser) -> None:
    from dexscrew_sdk.cli import add_config_args

    p.add_argument("checkpoint", type=Path, help="BC checkpoint (RUN/checkpoint_best.pt)")
    add_config_args(p)
    p.add_argument("--seconds", type=float, default=60.0, help="how long to run (cell clock: simulated in lockstep)")
    p.add_argument("--mode", choices=["chunk", "ensemble"], default="chunk", help="chunk: n of H then re-plan")
    p.add_argument("--execute", type=int, default=8, help="n: chunk steps executed before re-planning")
    p.add_argument("--ensemble-k", type=float, default=0.01, help="ACT weight exp(-k i), i = 0 the oldest chunk")
    p.add_argument("--arm-smoothing", type=float, default=0.0, help="EMA factor of arm targets in [0, 1) (0: off)")
    p.add_argument("--weights", choices=["ema", "model"], default="ema", help="which weights to deploy")
    p.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto",
                   help="what runs the network: auto = ONNX Runtime if installed and agreeing, else torch")  # fmt: skip
    p.add_argument("--launch", action="store_true", help="start the configuration's nodes first (twins)")
    p.add_argument("--task", default=None, help="twins: reset the world to this task before running")
    p.add_argument("--shape", default=None, help="twins: nut or handle shape for the reset")
    p.add_argument("--seed", type=int, default=None, help="twins: scene seed for the reset (an evaluation seed)")


def _run_policy(args: argparse.Namespace) -> int:
    import json

    from policies.bc.run import run_from_args

    report = run_from_args(args)
    print(json.dumps(report))
    return 0 if report.get("fault") is None else 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-bc", help="train a BC policy (touch + history) on recorded demonstrations")
    add_train_args(p)
    p.set_defaults(func=_train_bc)

    p = sub.add_parser(
        "run-policy",
        help="run a BC checkpoint on a cell at its control rate (refused before anything moves if it does not fit)",
    )
    add_run_args(p)
    p.set_defaults(func=_run_policy)
