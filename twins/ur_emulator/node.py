"""Backends of the emulator and the node factory of the hardware-in-the-loop cell.

`make_emulated_cell` starts the emulator on loopback, backed by a kinematic arm
(backend "kinematic") or by the twin's arm (backend "twin"), and serves the
remaining devices of that cell (hand, tactile) over the bus. The node's loop
advances the simulation through `LockedSimulation`, so the emulator's socket
threads and the node never touch the simulation at the same time.
"""

from __future__ import annotations

import atexit
import signal
import threading
from dataclasses import dataclass
from typing import Any

from dexscrew_sdk.config import cell_limits_from_params
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import Arm, Device, Simulated
from dexscrew_sdk.node import Hosted
from dexscrew_sdk.reference import KinematicCell
from twins.ur_emulator.controller import EmulatedController
from twins.ur_emulator.server import Ports, UREmulator

BACKENDS = ("kinematic", "twin")


class LockedSimulation(Simulated):
    """A simulation advanced under the lock the emulator's threads also take."""

    def __init__(self, sim: Simulated, lock: threading.RLock) -> None:
        self.sim = sim
        self.lock = lock
        self.control_period_s = sim.control_period_s

    def advance(self, dt_s: float) -> None:
        with self.lock:
            self.sim.advance(dt_s)

    def devices(self) -> dict[str, Device]:
        return self.sim.devices()


@dataclass
class Backend:
    arm: Arm
    sim: Simulated
    devices: dict[str, Device]


def build_backend(params: dict[str, Any]) -> Backend:
    kind = str(params.get("backend", "kinematic"))
    if kind == "kinematic":
        cell = KinematicCell(
            seed=int(params.get("seed", 0)),
            **cell_limits_from_params(params),
        )
        return Backend(cell.arm, cell, cell.devices())
    if kind == "twin":
        from twins.node import make_twin_cell  # the PyBullet twin, only when asked for

        twin_params = dict(params.get("twin", {}))
        twin_params.setdefault("devices", ["arm", "hand", "tactile"])
        twin_params.setdefault("lockstep", False)
        twin_params.setdefault("control_hz", params.get("control_hz", 20.0))
        hosted = make_twin_cell(twin_params)
        arm = hosted.devices.get("arm")
        if not isinstance(arm, Arm) or hosted.sim is None:
            raise ConfigError("backend 'twin': twins.node:make_twin_cell must return a simulated 'arm'")
        return Backend(arm, hosted.sim, hosted.devices)
    raise ConfigError(f"UR emulator backend {kind!r}; choose one of {BACKENDS}")


def ports_from_params(params: dict[str, Any]) -> Ports:
    p = params.get("ports", {})
    try:
        return Ports(int(p.get("rtde", 30004)), int(p.get("dashboard", 29999)), int(p.get("script", 30003)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"UR emulator ports must be integers: {exc}") from None


def start_emulator(params: dict[str, Any], advance_sim: bool) -> tuple[UREmulator, Backend, threading.RLock]:
    """Build the backend and serve it; `advance_sim` when no node loop advances the simulation."""
    backend = build_backend(params)
    lock = threading.RLock()
    controller = EmulatedController(backend.arm, lock)
    host = str(params.get("host", "127.0.0.1"))
    emulator = UREmulator(controller, host, ports_from_params(params), backend.sim.advance if advance_sim else None)
    emulator.start(bind_timeout_s=float(params.get("bind_timeout_s", 10.0)))
    return emulator, backend, lock


def make_emulated_cell(params: dict[str, Any]) -> Hosted:
    """Node factory: the UR emulator on loopback plus the cell's other devices (hand, tactile)."""
    wanted = list(params.get("devices", []))
    if "arm" in wanted:
        raise ConfigError("the emulated cell serves its arm over RTDE only; serve 'arm' from a 'ur5e' node")
    emulator, backend, lock = start_emulator(params, advance_sim=False)
    atexit.register(emulator.stop)
    unknown = set(wanted) - set(backend.devices)
    if unknown:
        raise ConfigError(f"emulated cell has no devices {sorted(unknown)}; choose from {sorted(backend.devices)}")
    return Hosted({k: backend.devices[k] for k in wanted}, sim=LockedSimulation(backend.sim, lock))


def serve_until_signalled(params: dict[str, Any]) -> None:
    """Run a standalone emulator (it advances its own simulation) until SIGINT or SIGTERM.

    SIGUSR1 presses and SIGUSR2 releases the robot's emergency stop (what an operator does by hand).
    ur_rtde holds the GIL while it connects, so the emulator must live in another process than the client.
    """
    emulator, _, _ = start_emulator(params, advance_sim=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: emulator.controller.press_emergency_stop())
    signal.signal(signal.SIGUSR2, lambda *_: emulator.controller.release_emergency_stop())
    print(f"ur-emulator ready on 127.0.0.1, ports {emulator.ports}; Ctrl-C to stop", flush=True)
    done.wait()
    emulator.stop()
