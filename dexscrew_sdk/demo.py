"""`dexscrew demo`: bring a cell up, run a scripted session through the Remote* interfaces.

The session is plain application code: it only sees `Cell` (arm, hand, tactile and,
on twins, world) and its clock, so it runs unchanged on the kinematic reference
cell, the PyBullet twin, the hardware-in-the-loop cell and the real robot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import config as config_mod
from dexscrew_sdk import resources
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.launcher import Launcher

DEFAULT_CONFIG = "twin_cell"  # a shipped configuration (dexscrew_sdk/configs)


def scripted_motion(cell: Cell, periods: int = 60, amplitude_rad: float = 0.15) -> dict[str, Any]:
    """Home the arm, sweep wrist and shoulder sinusoidally while closing then opening the hand."""
    arm, hand = cell.arm, cell.hand
    home = arm.state().q_rad.copy()
    arm.move_to(home, speed_rad_s=0.5)
    lo, hi = hand.limits.lower_rad, hand.limits.upper_rad
    open_q, closed_q = np.clip(np.zeros(12), lo, hi), lo + 0.6 * (hi - lo)
    tracking_err, peak_touch_n = 0.0, 0.0
    for i in cell.clock.ticks(periods):
        phase = i / periods
        offset = amplitude_rad * np.sin(2 * np.pi * phase) * np.array([1.0, 0.3, -0.3, 0.0, 0.5, 1.0])
        arm.servo(home + offset)
        grip = np.sin(np.pi * phase)  # close then open
        hand.command(open_q + grip * (closed_q - open_q))
        state = arm.state()
        tracking_err = max(tracking_err, float(np.abs(state.q_rad - (home + offset)).max()))
        if "tactile" in cell.devices:
            peak_touch_n = max(peak_touch_n, float(cell.tactile.frame().force_n[..., 2].sum(axis=1).max()))
    arm.move_to(home, speed_rad_s=0.5)
    return {
        "periods": periods,
        "sim_or_wall_time_s": round(cell.clock.now(), 3),
        "arm_max_tracking_error_rad": round(tracking_err, 4),
        "arm_final_error_rad": float(np.abs(arm.state().q_rad - home).max()),
        "peak_fingertip_normal_force_n": round(peak_touch_n, 3),
    }


def skill_session(cell: Cell, task: str, shape: str, duration_s: float, seed: int = 0) -> dict[str, Any]:
    """On a twin: reset the task, run the shipped finger-rotation skill with the arm held still."""
    from dexscrew_sdk.skills.skill import Skill

    cell.world.reset(task, shape, seed=seed)
    q_arm = cell.arm.state().q_rad.copy()
    skill_dir = resources.shipped_skill(task)
    skill = Skill.load(skill_dir)
    peak_touch = np.zeros(5)

    def observe(_: int) -> None:
        cell.arm.servo(q_arm)  # the operator holds the wrist still (and keeps the arm's watchdog fed)
        normal = cell.tactile.frame().force_n[..., 2].sum(axis=1)
        np.maximum(peak_touch, normal, out=peak_touch)

    stats = skill.run(cell.hand, cell.clock, duration_s=duration_s, on_step=observe)
    progress = cell.world.progress()
    return {
        "task": task,
        "shape": shape,
        "skill": str(skill_dir),
        "skill_steps": stats.steps,
        "nan_actions": stats.nan_actions,
        "sim_time_s": round(progress.time_s, 2),
        "turns_done": round(progress.turns_done, 3),
        "turns_required": progress.turns_required,
        "progress_ratio": round(progress.ratio, 3),
        "peak_normal_force_per_fingertip_n": [round(float(x), 2) for x in peak_touch],
        "arm_drift_rad": float(np.abs(cell.arm.state().q_rad - q_arm).max()),
        "wall_time_s": round(stats.duration_s, 2),
    }


def run(args: argparse.Namespace) -> int:
    from dexscrew_sdk.evaluation import demo_cli

    if demo_cli.wants_pipeline(args, config_given=args.config is not None):
        return demo_cli.run(args)  # no configuration: the whole method (record, train, evaluate)
    args.config = args.config or Path(DEFAULT_CONFIG)
    cfg = config_mod.load(args.config, args.overrides)
    launcher = Launcher(cfg, args.config, args.overrides)
    try:
        launcher.start()
        with Cell.connect(cfg) as cell:
            if "world" in cell.devices:
                summary = skill_session(cell, args.task, args.shape, args.seconds)
            else:
                summary = scripted_motion(cell, periods=args.periods)
    finally:
        launcher.shutdown()
    summary["config"] = str(args.config)
    print(json.dumps(summary))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole method on the twin (record, train BC, evaluate, report); with a configuration or "
        "--skill-only: a session through the bus (on a twin the shipped skill turns the nut; elsewhere a scripted "
        "arm + hand motion)",
    )
    p.add_argument("config", type=Path, nargs="?", default=None, help=f"cell configuration (e.g. {DEFAULT_CONFIG})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--task", choices=["nut", "screwdriver"], default="nut", help="twin: task and shipped skill")
    p.add_argument("--shape", default="triangular", help="twin: nut or handle shape")
    p.add_argument("--seconds", type=float, default=15.0, help="twin: simulated seconds of skill")
    p.add_argument("--periods", type=int, default=60, help="other cells: control periods of scripted motion")
    from dexscrew_sdk.evaluation import demo_cli

    demo_cli.add_arguments(p)
    p.set_defaults(func=run)
