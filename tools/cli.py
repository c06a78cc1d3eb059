"""Operator verbs: calibrate, tactile-check, bus-monitor."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dexscrew_sdk.cli import add_config_args


def _calibrate(args: argparse.Namespace) -> int:
    from dexscrew_sdk.cell import Cell
    from tools import calibration

    with Cell.connect(args.config, args.overrides) as cell:
        if args.what == "tactile-zero":
            result = calibration.run_tactile_zero(cell, args.out, args.frames)
        else:
            result = calibration.run_joint_offsets(cell, args.out, args.reference, args.frames)
    print(json.dumps(result))
    return 0


def _tactile_check(args: argparse.Namespace) -> int:
    from dexscrew_sdk.cell import Cell
    from tools import tactile_check

    with Cell.connect(args.config, args.overrides) as cell:
        result = tactile_check.run(cell, args.frames, args.press, args.min_press_n)
    for pad in result["pads"]:
        print(
            f"{pad['fingertip']:>7}: peak {pad['max_normal_n']:7.3f} N  active {pad['active_taxels']:3d}  "
            f"stuck {pad['stuck_taxels']:3d}",
            file=sys.stderr,
        )
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def _bus_monitor(args: argparse.Namespace) -> int:
    from tools import bus_monitor

    print(json.dumps(bus_monitor.monitor(bus_monitor.load(args.config, args.overrides), args.duration)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="hand calibration: tactile zero or joint offsets, written as JSON")
    p.add_argument("what", choices=["tactile-zero", "joint-offsets"])
    add_config_args(p)
    p.add_argument("--out", type=Path, required=True, help="JSON file the XHand driver will read")
    p.add_argument("--frames", type=int, default=100, help="samples to average")
    p.add_argument(
        "--reference",
        type=float,
        nargs=12,
        metavar="RAD",
        help="joint-offsets: the jig pose, 12 values in canonical order (default all zero)",
    )
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("tactile-check", help="check every fingertip pad: quiet at rest, responsive to a press")
    add_config_args(p)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument(
        "--press",
        choices=["thumb", "index", "middle", "ring", "pinky"],
        help="the fingertip the operator presses during the check",
    )
    p.add_argument("--min-press-n", type=float, default=0.5)
    p.set_defaults(func=_tactile_check)

    p = sub.add_parser("bus-monitor", help="rates, sequence gaps, latency and counters of a running cell's streams")
    add_config_args(p)
    p.add_argument("--duration", type=float, default=2.0, help="seconds to listen per node")
    p.set_defaults(func=_bus_monitor)
