"""Node factory of the full twin: `factory = "twin"` in a cell configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexscrew_sdk.config import CellLimitParams, cell_limits
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.node import Hosted, pick_devices
from dexscrew_sdk.params import NodeContext
from twins import objects
from twins.cell import TwinCell
from twins.faults import SensorParams, SensorReadout
from twins.scene import TaskParams


@dataclass
class TwinParams(CellLimitParams):
    """`[nodes.N.params]` of `factory = "twin"`."""

    seed: int = 0
    task: str = "nut"
    shape: str | None = None  # default: "triangular" for the nut, "octagon" for the screwdriver
    pitch_m: float = 0.00175
    turns_required: float = 4.0
    sensors: SensorParams = field(default_factory=SensorParams)  # sensor faults, calibration files, a jig

    def __post_init__(self) -> None:
        if self.shape is None:
            self.shape = "triangular" if self.task == "nut" else "octagon"
        objects.object_geometry(self.task, self.shape)  # bad names fail here, naming the valid ones
        if not (np.isfinite(self.pitch_m) and self.pitch_m > 0 and self.turns_required > 0):
            raise ConfigError("pitch_m and turns_required must be positive")


def make_twin_cell(params: TwinParams, ctx: NodeContext) -> Hosted:
    """One process, one PyBullet world; serves whichever of arm/hand/tactile/world the node lists."""
    assert params.shape is not None
    task_params = TaskParams(
        task=params.task, shape=params.shape, pitch_m=params.pitch_m, turns_required=params.turns_required
    )
    sensors = SensorReadout(params.sensors, params.seed)
    cell = TwinCell(task_params, seed=params.seed, sensors=sensors, **cell_limits(params))
    cell.control_period_s = 1.0 / ctx.control_hz
    return Hosted(pick_devices(cell.devices(), ctx.devices, "twin cell"), sim=cell)
