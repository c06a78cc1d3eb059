"""`dexscrew run-policy CHECKPOINT CONFIG`: connect (or launch) a cell, optionally reset its world, run."""

from __future__ import annotations

import argparse
from typing import Any

from policies.bc.deploy import DeployConfig, load_policy, run_policy
from policies.bc.layout import BCError


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from dexscrew_sdk import config as config_mod
    from dexscrew_sdk.cell import Cell
    from dexscrew_sdk.launcher import Launcher

    if args.seconds <= 0:
        raise BCError(f"--seconds must be positive, got {args.seconds}")
    # a bad checkpoint fails before any cell is touched
    policy = load_policy(args.checkpoint, args.weights, args.backend)
    cfg = DeployConfig(args.mode, args.execute, args.ensemble_k, args.arm_smoothing)
    cell_cfg = config_mod.load(args.config, args.overrides)
    launcher = Launcher(cell_cfg, args.config, args.overrides) if args.launch else None
    try:
        if launcher is not None:
            launcher.start()
        with Cell.connect(cell_cfg) as cell:
            scene = _reset_world(cell, args)
            report = run_policy(cell, policy, args.seconds, cfg).to_dict()
            if "world" in cell.devices:
                p = cell.world.progress()
                report["progress"] = {"turns_done": p.turns_done, "turns_required": p.turns_required,
                                      "ratio": p.ratio, "fastened": p.fastened, "time_s": p.time_s}  # fmt: skip
    finally:
        if launcher is not None:
            launcher.shutdown()
    report.update(checkpoint=str(args.checkpoint), config=str(args.config), scene=scene, deploy=vars(cfg),
                  backend=policy.backend_choice)  # fmt: skip
    return report


def _reset_world(cell: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    if args.seed is None and args.task is None:
        return None
    if "world" not in cell.devices:
        raise BCError("--task/--seed reset a simulated world; this cell has none")
    if not (args.task and args.shape and args.seed is not None):
        raise BCError("a world reset needs --task, --shape and --seed together")
    cell.world.reset(args.task, args.shape, seed=args.seed)
    return {"task": args.task, "shape": args.shape, "seed": args.seed}
