"""`python -m tests.teleop.servo_log_emulator OUT.npy`: the UR emulator (kinematic arm) logging every servoJ
target it RECEIVES, before its own arm model touches it; saved to OUT.npy as [stamp_s, q0..q5] rows on SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
import time

import numpy as np

from dexscrew_sdk.reference import KinematicCell
from twins.ur_emulator.controller import SERVOJ, EmulatedController
from twins.ur_emulator.server import Ports, UREmulator


class LoggingController(EmulatedController):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.received: list[list[float]] = []
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _realtime(self, cmd: int) -> None:
        if cmd == SERVOJ:
            self.received.append([time.monotonic(), *self._args(6).tolist()])
        super()._realtime(cmd)


def main() -> None:
    out = sys.argv[1]
    cell = KinematicCell()
    controller = LoggingController(cell.arm, threading.RLock())
    emulator = UREmulator(controller, "127.0.0.1", Ports(), cell.advance).start(bind_timeout_s=20.0)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("servo-log emulator ready", flush=True)
    done.wait()
    emulator.stop()
    with controller.lock:
        np.save(out, np.asarray(controller.received, dtype=float).reshape(-1, 7))


if __name__ == "__main__":
    main()
