"""What every operator device is: connect, read one command per control step, close.

Human devices ignore the `OperatorView`; scripted operators decide from it.
Vendor libraries are imported in `connect()`, never at module import, and a
missing one raises `DeviceUnavailable` saying how to install it.
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from dexscrew_sdk.errors import DeviceNotConnected
from dexscrew_sdk.records import TaskProgress
from dexscrew_sdk.teleop.command import Frame, MotionKind, OperatorCommand


class DeviceUnavailable(DeviceNotConnected):
    """An input device's library or hardware is missing; the message says how to get it."""


@dataclass(frozen=True)
class OperatorView:
    """What the operator sees at the start of a control step."""

    step: int = 0
    time_s: float = 0.0  # the session clock (simulated time on lockstep twins)
    q_arm_rad: np.ndarray = field(default_factory=lambda: np.zeros(6))
    tool_pose: np.ndarray = field(default_factory=lambda: np.zeros(6))
    q_hand_rad: np.ndarray = field(default_factory=lambda: np.zeros(12))
    skill_on: bool = False
    ik_ok: bool = True
    events: tuple[str, ...] = ()
    progress: TaskProgress | None = None  # twins: the World's progress, read once per step with the sources


@dataclass
class Levels:
    """The state a device keeps between steps (a keyboard toggles what a trigger would hold)."""

    clutch: bool = False
    skill_on: bool = False
    speed_scale: float = 1.0

    def nudge_speed(self, factor: float) -> None:
        self.speed_scale = float(np.clip(self.speed_scale * factor, 0.05, 1.0))


class OperatorDevice(ABC):
    """One input device. `kind` and `frame` declare how its motion is meant."""

    name: str = "device"
    kind: MotionKind = MotionKind.TWIST
    frame: Frame = Frame.BASE

    def __init__(self) -> None:
        self.levels = Levels()
        self._seq = itertools.count()

    def connect(self) -> None:
        """Open the device; idempotent."""

    def close(self) -> None:
        """Release the device; idempotent."""

    @abstractmethod
    def read(self, view: OperatorView) -> OperatorCommand:
        """The command for this control step (never blocks longer than a few ms)."""

    def params(self) -> dict[str, Any]:
        """What to store in the episode metadata about this device and its settings."""
        return {"device": self.name, "kind": self.kind.value, "frame": self.frame.value}

    def command(self, motion: np.ndarray | None = None, **events: Any) -> OperatorCommand:
        """A command from this device's levels plus this step's motion and events."""
        lv = self.levels
        fields: dict[str, Any] = {
            "kind": self.kind,
            "frame": self.frame,
            "clutch": lv.clutch,
            "skill_on": lv.skill_on,
            "speed_scale": lv.speed_scale,
        }
        fields.update(events)
        return OperatorCommand(
            motion=np.zeros(6) if motion is None else motion,
            stamp_ns=time.monotonic_ns(),
            seq=next(self._seq),
            **fields,
        )

    def __enter__(self) -> OperatorDevice:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
