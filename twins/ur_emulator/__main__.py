"""`python -m twins.ur_emulator`: run the UR controller emulator alone on loopback until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from twins.ur_emulator.node import BACKENDS, start_emulator


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m twins.ur_emulator", description=__doc__)
    p.add_argument("--backend", choices=BACKENDS, default="kinematic")
    p.add_argument("--rtde-port", type=int, default=30004)
    p.add_argument("--dashboard-port", type=int, default=29999)
    p.add_argument("--script-port", type=int, default=30003)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="[ur-emulator] %(message)s")
    ports = {"rtde": args.rtde_port, "dashboard": args.dashboard_port, "script": args.script_port}
    emulator, _, _ = start_emulator({"backend": args.backend, "ports": ports}, advance_sim=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"ur-emulator ready on 127.0.0.1 rtde={args.rtde_port}", flush=True)
    done.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
