"""In-process cells for teleop tests: the kinematic reference devices (or a twin) behind the same names as
`Cell`, a clock that advances the simulation one control period per wait, a fake World and a fake skill."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.clock import Clock
from dexscrew_sdk.interfaces import World
from dexscrew_sdk.records import DeviceInfo, TaskProgress
from dexscrew_sdk.reference import KinematicCell
from dexscrew_sdk.skills.policy import official_metadata
from dexscrew_sdk.skills.skill import Skill

FAKES = Path(__file__).resolve().parent / "fakes"


class SimClock(Clock):
    """Lockstep in-process: each wait() advances the simulation one control period."""

    def __init__(self, sim: Any, period_s: float = 0.05) -> None:
        super().__init__(period_s)
        self.sim = sim
        self.overruns = 0

    def wait(self) -> None:
        self.sim.advance(self.period_s)

    def now(self) -> float:
        return float(self.sim.time_s)


class FakeWorld(World):
    """Turns grow with how far the fingers moved (what a turning skill does); every call is logged."""

    def __init__(self, cell: KinematicCell, turns_per_rad: float = 0.05, turns_required: float = 1.0) -> None:
        super().__init__()
        self.cell, self.k, self.required = cell, turns_per_rad, turns_required
        self.calls: list[str] = []
        self.turns = 0.0
        self._q = cell.hand.q.copy()
        self.object_xyz_m: tuple[float, ...] | None = (0.1, -0.45, 0.2)  # None: a World that shows no pose

    def info(self) -> DeviceInfo:
        return DeviceInfo("world", "fake-world")

    def reset(self, task: str, shape: str, seed: int = 0, randomisation: dict[str, Any] | None = None) -> None:
        self.calls.append("reset")
        self.turns, self._q = 0.0, self.cell.hand.q.copy()

    def perturb(self, kind: str) -> None:
        self.calls.append(f"perturb:{kind}")

    def progress(self) -> TaskProgress:
        self.calls.append("progress")
        q = self.cell.hand.q
        self.turns += self.k * float(np.abs(q - self._q).sum())
        self._q = q.copy()
        pose: tuple[float, ...] = ()
        if self.object_xyz_m is not None:  # the nut goes down the thread as it turns
            x, y, z = self.object_xyz_m
            pose = (x, y, z - 0.00175 * self.turns, 0.0, 0.0, 0.0)
        return TaskProgress(self.turns, self.required, self.turns >= self.required, self.cell.time_s, "nut",
                            "square", object_pose=pose)  # fmt: skip


@dataclass
class LocalCell:
    """What `TeleopSession` uses of `Cell`, over in-process devices."""

    sim: Any
    clock: SimClock
    devices: dict[str, Any] = field(default_factory=dict)
    config: Any = field(default_factory=lambda: SimpleNamespace(name="local", source=None, nodes={}))

    @property
    def arm(self) -> Any:
        return self.devices["arm"]

    @property
    def hand(self) -> Any:
        return self.devices["hand"]

    @property
    def tactile(self) -> Any:
        return self.devices["tactile"]

    @property
    def world(self) -> Any:
        return self.devices["world"]


def fake_skill(task: str = "nut", amplitude: float = 1.0) -> Skill:
    """A skill whose policy flexes the fingers back and forth: no torch needed."""
    meta = official_metadata(task, joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
    phase = {"k": 0}

    def policy(obs: np.ndarray, hist: np.ndarray) -> np.ndarray:
        phase["k"] += 1
        return np.full(12, amplitude * np.sin(phase["k"] / 3.0))

    return Skill(policy, meta)


@pytest.fixture
def local_cell() -> LocalCell:
    sim = KinematicCell(seed=0)
    devices: dict[str, Any] = dict(sim.devices())
    devices["world"] = FakeWorld(sim)
    return LocalCell(sim, SimClock(sim), devices)
