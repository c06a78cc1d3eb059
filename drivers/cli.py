"""`dexscrew ur-emulator`: run the loopback UR controller emulator for trying the UR5e driver without a robot."""

from __future__ import annotations

import argparse
from typing import Any


def _cmd_ur_emulator(args: argparse.Namespace) -> int:
    from twins.ur_emulator.node import EmulatedCellParams, EmulatorPorts, serve_until_signalled

    ports = EmulatorPorts(args.rtde_port, args.dashboard_port, args.script_port)
    serve_until_signalled(EmulatedCellParams(backend=args.backend, ports=ports))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("ur-emulator", help="run a UR controller emulator (RTDE, dashboard, script) on 127.0.0.1")
    p.add_argument("--backend", choices=("kinematic", "twin"), default="kinematic")
    p.add_argument("--rtde-port", type=int, default=30004, help="ur_rtde always dials 30004")
    p.add_argument("--dashboard-port", type=int, default=29999)
    p.add_argument("--script-port", type=int, default=30003)
    p.set_defaults(func=_cmd_ur_emulator)
