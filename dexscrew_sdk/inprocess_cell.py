"""A lockstep cell's simulated devices built in this process and stepped by a clock of its own.

Application code written against `Cell` (a teleoperation session, a skill, a policy runner) runs on
it unchanged, only without node processes and the bus: each node's factory builds the same devices
it would serve, and `wait()` advances every simulation one control period as a lockstep tick does.
`dexscrew bench record` uses it as the baseline that shows what the nodes and the bus cost.

    with open_inprocess(config.load(config_path("twin_cell"))) as cell:
        cell.world.reset("nut", "square", seed=1); cell.arm.state(); cell.clock.wait()
"""

from __future__ import annotations

import time
from typing import Any

from dexscrew_sdk.clock import Clock
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.hosting import Hosted
from dexscrew_sdk.interfaces import Device, Simulated


class StepClock(Clock):
    """Lockstep in one process: each wait() advances every simulation by one period.

    It also notes the wall time of the first and the last tick, so a caller can tell how fast the
    loop between them ran (`sim_per_wall`)."""

    def __init__(self, period_s: float, sims: list[Simulated]) -> None:
        super().__init__(period_s)
        self.sims = sims
        self.n_ticks = 0
        self.first_wall_s: float | None = None
        self.last_wall_s: float | None = None

    def now(self) -> float:
        return self.n_ticks * self.period_s

    def wait(self) -> None:
        for sim in self.sims:
            sim.advance(self.period_s)
        self.n_ticks += 1
        self.last_wall_s = time.perf_counter()
        if self.first_wall_s is None:
            self.first_wall_s = self.last_wall_s

    def sim_per_wall(self) -> float:
        """Simulated seconds per wall second from the first tick to the last (nan before two ticks)."""
        if self.first_wall_s is None or self.last_wall_s is None or self.n_ticks < 2:
            return float("nan")
        return (self.n_ticks - 1) * self.period_s / (self.last_wall_s - self.first_wall_s)


class InProcessCell:
    """`cell.arm`, `cell.hand`, `cell.tactile`, `cell.world`, `cell.devices`, `cell.clock`, `cell.config`."""

    def __init__(self, config: CellConfig, hosted: list[Hosted]) -> None:
        self.config = config
        self.hosted = hosted
        self.devices: dict[str, Device] = {k: v for h in hosted for k, v in h.devices.items()}
        self.clock = StepClock(1.0 / config.control_hz, [h.sim for h in hosted if h.sim is not None])

    def __getattr__(self, name: str) -> Any:
        devices = self.__dict__.get("devices", {})
        if name in devices:
            return devices[name]
        raise AttributeError(f"this cell has no device {name!r} (devices: {sorted(devices)})")

    def close(self) -> None:
        from dexscrew_sdk.node_process import close_hosted

        for h in self.hosted:
            close_hosted(h)

    def __enter__(self) -> InProcessCell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_inprocess(cfg: CellConfig) -> InProcessCell:
    """Every node's devices of a lockstep configuration whose nodes are all simulations, in this process."""
    from dexscrew_sdk.node_process import close_hosted, host_devices

    if not cfg.lockstep:
        raise ConfigError(f"cell {cfg.name!r} runs in real time: only a lockstep cell can run in one process")
    hosted: list[Hosted] = []
    try:
        for name in cfg.nodes:
            hosted.append(host_devices(cfg, name))
            if hosted[-1].sim is None:
                raise ConfigError(
                    f"node {name!r} of cell {cfg.name!r} hosts no simulation: it cannot run in one process"
                )
    except BaseException:
        for h in hosted:
            close_hosted(h)
        raise
    return InProcessCell(cfg, hosted)
