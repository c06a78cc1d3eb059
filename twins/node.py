"""Node factory of the full twin: `factory = "twin"` in a cell configuration."""

from __future__ import annotations

from typing import Any

import numpy as np

from dexscrew_sdk.config import cell_limits_from_params
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.node import Hosted
from twins import objects
from twins.cell import TwinCell
from twins.scene import TaskParams

_TASK_KEYS = ("task", "shape", "pitch_m", "turns_required")


def make_twin_cell(params: dict[str, Any]) -> Hosted:
    """One process, one PyBullet world; serves whichever of arm/hand/tactile/world params["devices"] lists."""
    task = str(params.get("task", "nut"))
    shape = str(params.get("shape", "triangular" if task == "nut" else "octagon"))
    objects.object_geometry(task, shape)  # bad names fail here, naming the valid ones
    task_params = TaskParams(
        task=task,
        shape=shape,
        pitch_m=float(params.get("pitch_m", 0.00175)),
        turns_required=float(params.get("turns_required", 4.0)),
    )
    if not (np.isfinite(task_params.pitch_m) and task_params.pitch_m > 0 and task_params.turns_required > 0):
        raise ConfigError("twin params: pitch_m and turns_required must be positive")
    cell = TwinCell(
        task_params,
        seed=int(params.get("seed", 0)),
        **cell_limits_from_params(params),
    )
    cell.control_period_s = 1.0 / float(params.get("control_hz", 20.0))
    devices = cell.devices()
    wanted = params.get("devices", list(devices))
    unknown = set(wanted) - set(devices)
    if unknown:
        raise ConfigError(f"twin cell has no devices {sorted(unknown)}; choose from {sorted(devices)}")
    return Hosted({k: devices[k] for k in wanted}, sim=cell)
