"""The `dexscrew demo` options of the end-to-end pipeline, and its run (printing the table, JSON last)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.evaluation.demo_pipeline import DemoSize, Pipeline, paper_size, preflight
from dexscrew_sdk.evaluation.results import write_json_atomic
from dexscrew_sdk.skills.choice import DEFAULT_SKILL, SKILL_HELP, resolve_skill

DEFAULT_OUT = Path("runs/demo")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the whole method (default when no configuration is given)")
    g.add_argument("--skill-only", action="store_true", help="only the skill session (the twin's skill, --seconds)")
    g.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder; a rerun resumes it")
    g.add_argument("--paper", action="store_true", help="the paper's counts (50/72 demos, 10 trials, 200 epochs)")
    g.add_argument("--epochs", type=int, help="BC epochs (default 20; --paper 200)")
    g.add_argument("--preset", choices=["default", "paper"], help="BC model size (default; --paper: paper)")
    g.add_argument("--demos-per-object", type=int, help="demonstrations per seen object (default 6)")
    g.add_argument("--trials", type=int, help="trials per (method, object) (default 3; --paper 10)")
    g.add_argument("--turns", type=float, help="twin turns to full fastening (default 1; --paper 4)")
    g.add_argument("--demo-seconds", type=float, help="longest demonstration, simulated seconds (both tasks)")
    g.add_argument("--trial-seconds", type=float, help="trial limit, simulated seconds (both tasks)")
    g.add_argument("--perturbation-trials", type=int, help="per perturbation kind and object (default 1; --paper 10)")
    g.add_argument("--all-episodes", action="store_true",
                   help="unfiltered BC: also train on (and replay) demonstrations not labelled successful")  # fmt: skip
    g.add_argument("--workers", type=int, help="parallel twin nodes and jobs (default: one per usable core)")
    g.add_argument("--skill", default=DEFAULT_SKILL, metavar="shipped|official|PATH", help=SKILL_HELP)


def wants_pipeline(args: argparse.Namespace, config_given: bool) -> bool:
    return not args.skill_only and not config_given


def size_from(args: argparse.Namespace) -> DemoSize:
    size = paper_size(args.epochs, args.preset) if args.paper else DemoSize()
    if not args.paper:
        size.epochs = args.epochs if args.epochs is not None else size.epochs
        size.preset = args.preset or size.preset
    if args.demos_per_object is not None:
        size.demos_per_object = dict.fromkeys(size.demos_per_object, args.demos_per_object)
    if args.trials is not None:
        size.trials = args.trials
    if args.perturbation_trials is not None:
        size.perturbation_trials = args.perturbation_trials
    size.all_episodes = bool(args.all_episodes)
    for task in ("nut", "screwdriver"):  # a bad --skill is refused before the first step runs
        resolve_skill(args.skill, task)
    size.skill = args.skill
    if args.turns is not None:
        size.turns_required = args.turns
    for name, value in (("demo_seconds", args.demo_seconds), ("trial_seconds", args.trial_seconds)):
        if value is not None:
            if not value > 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
            setattr(size, name, dict.fromkeys(("nut", "screwdriver"), value))
    if not size.turns_required > 0 or size.perturbation_trials < 0:
        raise ConfigError("--turns must be positive and --perturbation-trials >= 0")
    for name, value in (("--epochs", size.epochs), ("--trials", size.trials)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if min(size.demos_per_object.values()) < 2:
        raise ConfigError("--demos-per-object must be >= 2 (BC holds some out for validation)")
    return size


def run(args: argparse.Namespace, config: str = "twin_cell") -> int:
    from dexscrew_sdk.evaluation.runner import usable_cores

    t0 = time.monotonic()
    size = size_from(args)
    workers = args.workers or usable_cores()

    def say(text: str) -> None:
        print(f"[demo {time.monotonic() - t0:6.0f} s] {text}", file=sys.stderr, flush=True)

    preflight()
    pipeline = Pipeline(args.out, size, config, workers, say)
    say(f"report folder {args.out}; every step's command: {args.out / 'report' / 'commands.md'}")
    state = pipeline.run()
    summary = json.loads((args.out / "report" / "summary.json").read_text())
    wall_s = round(time.monotonic() - t0, 1)
    steps_s = {name: d["wall_s"] for name, d in state["done"].items()}
    train_s = [v for k, v in steps_s.items() if k.startswith("train ")]
    about = {
        "size": asdict(size),
        "paper": bool(args.paper),
        "wall_s_this_run": wall_s,
        "steps_wall_s": steps_s,
        # whole train-bc process time (start-up included) per epoch: an upper bound for extrapolating
        "train_s_per_epoch_max": round(max(train_s) / size.epochs, 2) if train_s else None,
    }
    write_json_atomic(args.out / "report" / "demo.json", about)
    print(f"size: {json.dumps(asdict(size))}\n")
    print((args.out / "report" / "tables.md").read_text())
    print(json.dumps({"wall_s": wall_s, "steps_wall_s": steps_s, "out": str(args.out), "paper": bool(args.paper),
                      "train_s_per_epoch_max": about["train_s_per_epoch_max"],
                      "infra_attempts": summary["infra_attempts"], **summary["flat"]}, sort_keys=True))  # fmt: skip
    return 0
