"""What a node hosts and reports: the factory's result, the node's options and counters, reply payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk.bus import CurveKeys, Endpoints
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import Device, Simulated, World


@dataclass
class Hosted:
    """What a device factory returns: named devices, and the simulation behind them if any."""

    devices: dict[str, Device]
    sim: Simulated | None = None


def pick_devices(available: dict[str, Device], wanted: tuple[str, ...], what: str) -> dict[str, Device]:
    """The devices a node serves, from those its factory built; ConfigError naming the valid ones."""
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise ConfigError(f"{what} has no devices {unknown}; choose from {sorted(available)}")
    return {k: available[k] for k in wanted}


@dataclass
class NodeOptions:
    name: str
    endpoints: Endpoints = field(default_factory=Endpoints)
    publish_hz: float = 100.0
    watchdog_s: float = 0.2
    lockstep: bool = False
    curve: CurveKeys | None = None


@dataclass
class NodeStats:
    received: int = 0
    applied: int = 0
    rejected: int = 0
    superseded: int = 0  # valid streaming commands replaced by a newer one before being applied
    watchdog_stops: int = 0
    published: int = 0
    last_error: str = ""


def progress_dict(world: World) -> dict[str, Any]:
    p = world.progress()
    return {
        "turns_done": float(p.turns_done),
        "turns_required": float(p.turns_required),
        "fastened": bool(p.fastened),
        "time_s": float(p.time_s),
        "task": p.task,
        "shape": p.shape,
        "stalled": bool(p.stalled),
        "unseated": bool(p.unseated),
        "seat_torque_nm": float(p.seat_torque_nm),
        "object_pose": [float(v) for v in p.object_pose],
    }


def jsonable_dict(d: dict[str, Any]) -> dict[str, Any]:
    """numpy values -> msgpack-native values, so device `extra` info can hold arrays."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = jsonable_dict(v)
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out
