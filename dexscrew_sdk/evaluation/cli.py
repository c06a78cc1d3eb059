"""`dexscrew eval`: the paper's tables on the twin, in parallel over twin nodes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.evaluation import catalog
from dexscrew_sdk.skills.choice import DEFAULT_SKILL, SKILL_HELP

DEFAULT_CONFIG = "twin_cell"


def parse_objects(items: list[str] | None) -> list[catalog.EvalObject]:
    """`square`, `nut/square`, `nut` (all nuts), `all`."""
    if not items or items == ["all"]:
        return list(catalog.OBJECTS)
    out: list[catalog.EvalObject] = []
    for item in items:
        if item in ("nut", "screwdriver"):
            out += catalog.objects_of(item)
            continue
        task, _, shape = item.rpartition("/")
        matches = [o for o in catalog.OBJECTS if o.shape == shape and task in ("", o.task)]
        if not matches:
            raise ConfigError(f"--objects: unknown object {item!r}; choose from "
                              f"{[o.shape for o in catalog.OBJECTS]}, nut, screwdriver or all")  # fmt: skip
        out += matches
    return list(dict.fromkeys(out))


def parse_checkpoints(items: list[str]) -> dict[str, dict[str, str]]:
    """METHOD:TASK=PATH, e.g. bc_touch_hist:nut=runs/bc/nut_touch_hist/checkpoint_best.pt"""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        lhs, sep, path = item.partition("=")
        method, sep2, task = lhs.partition(":")
        if not (sep and sep2 and path) or method not in catalog.BC_METHODS or task not in ("nut", "screwdriver"):
            raise ConfigError(f"--checkpoint {item!r}: use METHOD:TASK=PATH with METHOD in {list(catalog.BC_METHODS)} "
                              "and TASK nut or screwdriver")  # fmt: skip
        if not Path(path).exists():
            raise ConfigError(f"--checkpoint {item!r}: {path} does not exist")
        out.setdefault(method, {})[task] = path
    return out


def parse_max_time(text: str) -> dict[str, float]:
    from dexscrew_sdk.evaluation.evaluate import DEFAULT_MAX_TIME_S

    out = dict(DEFAULT_MAX_TIME_S)
    for part in filter(None, text.split(",")):
        task, sep, value = part.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not sep or task not in out or not seconds > 0:
            raise ConfigError(f"--max-time {text!r}: use TASK=SECONDS[,TASK=SECONDS], e.g. nut=90,screwdriver=120")
        out[task] = seconds
    return out


def run(args: argparse.Namespace) -> int:
    from dexscrew_sdk import resources
    from dexscrew_sdk.evaluation.evaluate import EvalPlan, evaluate, printable
    from dexscrew_sdk.evaluation.methods import DEFAULT_PITCH_M, MethodConfig
    from dexscrew_sdk.evaluation.report import markdown

    if args.trials < 1 or args.perturbation_trials < 0:
        raise ConfigError("--trials must be >= 1 and --perturbation-trials >= 0")
    from dexscrew_sdk import config as config_mod

    config_path = resources.config_path(args.config)
    world_node = config_mod.load(config_path, args.overrides).node_serving("world")
    methods = args.methods or list(catalog.METHODS)
    method_cfg = MethodConfig(
        methods=methods,
        demos_dirs=[str(d) for d in args.demos],
        checkpoints=parse_checkpoints(args.checkpoint),
        skill_dirs={k: str(v) for k, v in (("nut", args.nut_skill), ("screwdriver", args.screwdriver_skill)) if v},
        skill=args.skill,
        all_episodes=args.all_episodes,
        pitch_m=float(world_node.params.get("pitch_m", DEFAULT_PITCH_M)),  # the follower lowers by the twin's pitch
    )
    plan = EvalPlan(
        methods=methods,
        objects=parse_objects(args.objects),
        trials=args.trials,
        perturbation_trials=args.perturbation_trials,
        perturbation_objects=args.perturbation_objects,
        perturbation_methods=args.perturbation_methods,
        max_time_s=parse_max_time(args.max_time),
    )

    def on_event(event: tuple) -> None:
        line = printable(event)
        if line:
            print(line, file=sys.stderr, flush=True)

    rep = evaluate(plan, method_cfg, config_path, args.overrides, args.out, args.workers, on_event)
    print(markdown(rep))
    print(json.dumps({"out": str(args.out), "infra_attempts": rep.infra_attempts, **rep.flat()}, sort_keys=True))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="seeded trials on the twin over several twin nodes; the paper's tables")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help="twin cell configuration (default: twin_cell)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--methods", nargs="+", choices=list(catalog.METHODS), help="default: every method")
    p.add_argument("--objects", nargs="+", help="shapes, TASK/SHAPE, nut, screwdriver or all (default)")
    p.add_argument("--trials", type=int, default=3, help="trials per (method, object)")
    p.add_argument("--perturbation-trials", type=int, default=0, help="per perturbation, method and object")
    p.add_argument("--perturbation-methods", nargs="+", choices=list(catalog.METHODS), default=["bc_touch_hist"],
                   help="methods that get perturbation trials (default: bc_touch_hist)")  # fmt: skip
    p.add_argument("--perturbation-objects", nargs="+", help="shapes that get perturbation trials (default: all)")
    p.add_argument("--max-time", default="", help="simulated seconds per trial, e.g. nut=90,screwdriver=120")
    p.add_argument("--workers", type=int, default=None, help="twin nodes in parallel (default: one per usable core)")
    p.add_argument(
        "--demos", type=Path, action="append", default=[], help="dataset of demonstrations (expert replay; repeatable)"
    )
    p.add_argument("--all-episodes", action="store_true", help="expert replay may use unlabelled demonstrations")
    p.add_argument("--checkpoint", action="append", default=[], metavar="METHOD:TASK=PATH", help="BC checkpoints")
    p.add_argument("--skill", default=DEFAULT_SKILL, metavar="shipped|official|PATH", help=SKILL_HELP)
    p.add_argument("--nut-skill", type=Path, help="skill folder for the nut (default: --skill)")
    p.add_argument("--screwdriver-skill", type=Path, help="skill folder for the screwdriver (default: --skill)")
    p.add_argument("--out", type=Path, default=Path("runs/eval"), help="report folder (resumes if it has trials)")
    p.set_defaults(func=run)
