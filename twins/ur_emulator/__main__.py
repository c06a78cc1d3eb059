"""`python -m twins.ur_emulator`: the emulator alone on loopback (also `dexscrew ur-emulator`)."""

from __future__ import annotations

import argparse
import logging

from twins.ur_emulator.node import BACKENDS, EmulatedCellParams, EmulatorPorts, serve_until_signalled


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m twins.ur_emulator", description=__doc__)
    p.add_argument("--backend", choices=BACKENDS, default="kinematic")
    p.add_argument("--rtde-port", type=int, default=30004)
    p.add_argument("--dashboard-port", type=int, default=29999)
    p.add_argument("--script-port", type=int, default=30003)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="[ur-emulator] %(message)s")
    ports = EmulatorPorts(args.rtde_port, args.dashboard_port, args.script_port)
    serve_until_signalled(EmulatedCellParams(backend=args.backend, ports=ports))


if __name__ == "__main__":
    main()
