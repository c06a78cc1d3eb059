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
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from dexscrew_sdk.clock import CONTROL_HZ
from dexscrew_sdk.config import CellLimitParams, cell_limits
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import Arm, Device, Simulated
from dexscrew_sdk.node import Hosted, pick_devices
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.reference import KinematicCell
from twins.ur_emulator.controller import EmulatedController
from twins.ur_emulator.server import Ports, UREmulator

BackendName = Literal["kinematic", "twin"]
BACKENDS: tuple[str, ...] = typing.get_args(BackendName)


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


@dataclass
class EmulatorPorts:
    rtde: int = 30004
    dashboard: int = 29999
    script: int = 30003


@dataclass
class EmulatedCellParams(CellLimitParams):
    """`[nodes.N.params]` of `factory = "twins.ur_emulator.node:make_emulated_cell"`."""

    backend: BackendName = "kinematic"
    seed: int = 0
    host: str = "127.0.0.1"
    ports: EmulatorPorts = field(default_factory=EmulatorPorts)
    bind_timeout_s: float = 10.0
    twin: dict[str, Any] = field(default_factory=dict)  # backend "twin": the twin factory's own parameters


def build_backend(params: EmulatedCellParams, control_hz: float = CONTROL_HZ) -> Backend:
    if params.backend == "kinematic":
        cell = KinematicCell(seed=params.seed, **cell_limits(params))
        return Backend(cell.arm, cell, cell.devices())
    from dexscrew_sdk import params as params_mod
    from twins.node import TwinParams, make_twin_cell  # the PyBullet twin, only when asked for

    twin_params = params_mod.load(TwinParams, params.twin, "twin")
    ctx = NodeContext("emulated", ("arm", "hand", "tactile"), lockstep=False, control_hz=control_hz)
    hosted = make_twin_cell(twin_params, ctx)
    arm = hosted.devices.get("arm")
    if not isinstance(arm, Arm) or hosted.sim is None:
        raise ConfigError("backend 'twin': twins.node:make_twin_cell must return a simulated 'arm'")
    return Backend(arm, hosted.sim, hosted.devices)


def start_emulator(
    params: EmulatedCellParams, advance_sim: bool, control_hz: float = CONTROL_HZ
) -> tuple[UREmulator, Backend, threading.RLock]:
    """Build the backend and serve it; `advance_sim` when no node loop advances the simulation."""
    backend = build_backend(params, control_hz)
    lock = threading.RLock()
    controller = EmulatedController(backend.arm, lock)
    p = params.ports
    ports = Ports(p.rtde, p.dashboard, p.script)
    emulator = UREmulator(controller, params.host, ports, backend.sim.advance if advance_sim else None)
    emulator.start(bind_timeout_s=params.bind_timeout_s)
    return emulator, backend, lock


def make_emulated_cell(params: EmulatedCellParams, ctx: NodeContext) -> Hosted:
    """Node factory: the UR emulator on loopback plus the cell's other devices (hand, tactile)."""
    if "arm" in ctx.devices:
        raise ConfigError("the emulated cell serves its arm over RTDE only; serve 'arm' from a 'ur5e' node")
    emulator, backend, lock = start_emulator(params, advance_sim=False, control_hz=ctx.control_hz)
    atexit.register(emulator.stop)
    return Hosted(pick_devices(backend.devices, ctx.devices, "emulated cell"), sim=LockedSimulation(backend.sim, lock))


def serve_until_signalled(params: EmulatedCellParams) -> None:
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
