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
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.launcher import Launcher

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "reference_cell.toml"


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


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config, args.overrides)
    launcher = Launcher(cfg, args.config, args.overrides)
    try:
        launcher.start()
        with Cell.connect(cfg) as cell:
            summary = scripted_motion(cell, periods=args.periods)
    finally:
        launcher.shutdown()
    summary["config"] = str(args.config)
    print(json.dumps(summary))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="start a cell and run a scripted arm + hand session through the bus")
    p.add_argument("config", type=Path, nargs="?", default=DEFAULT_CONFIG, help="cell configuration (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--periods", type=int, default=60, help="control periods to run")
    p.set_defaults(func=run)
