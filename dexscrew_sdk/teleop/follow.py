"""The arm follower: the operator's eyes on the thread.

As a nut turns it travels down the bolt by the thread's pitch per turn (a screw drives into its hole
the same way); a hand held still above it loses its grip on the nut. The follower reads the object's
turns from a read-only view of the World and lowers the wrist by pitch x turns (raises it again if the
object is turned back), streaming servo targets through the `Arm` interface. It sees nothing else: no
hand, no scene, no engine, so the same piece serves the scripted operator, evaluation and tests, on a
twin in-process or through a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dexscrew_sdk import kinematics
from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.interfaces import Arm, World
from dexscrew_sdk.records import TaskProgress


class ProgressView(Protocol):
    """What the follower may do with a World: read its progress."""

    def progress(self) -> TaskProgress: ...


class ObjectView(ProgressView, Protocol):
    """What a scripted operator may do with a World: read its progress and look at the object."""

    def object_pose(self) -> np.ndarray | None: ...


@dataclass(frozen=True)
class ReadOnlyWorld:
    """A World reduced to its read-only calls: resets, perturbations and anything that drives the object
    are not reachable through it."""

    _world: World

    def progress(self) -> TaskProgress:
        return self._world.progress()

    def object_pose(self) -> np.ndarray | None:
        """x, y, z [m] and rotation vector [rad] of the object in the arm's base frame (a copy), or None
        when the World does not report it."""
        return pose_of(self._world.progress())


def pose_of(progress: TaskProgress) -> np.ndarray | None:
    """The object's pose in a progress record (a copy), or None when the World does not report it."""
    return np.array(progress.object_pose, dtype=float) if len(progress.object_pose) == 6 else None


@dataclass(frozen=True)
class FollowStep:
    turns: float  # turns since start (positive = fastening)
    lowered_m: float  # how far the wrist target is below the start pose
    q_rad: np.ndarray  # the servo target sent


class ArmFollower:
    """Lowers the wrist by pitch x turns from where it was at `start()`, one servo target per `step()`."""

    def __init__(self, arm: Arm, world: ProgressView, pitch_m: float) -> None:
        if not (np.isfinite(pitch_m) and 0.0 < pitch_m < 0.01):
            raise CommandRejected(f"ArmFollower: pitch_m must be in (0, 0.01) m, got {pitch_m!r}")
        self.arm, self.world, self.pitch_m = arm, world, float(pitch_m)
        self._start: tuple[np.ndarray, float] | None = None
        self._q = np.zeros(6)

    def start(self) -> None:
        """Take the wrist's current pose and the object's current turns as the reference."""
        self._q = self.arm.state().q_rad.copy()
        self._start = (kinematics.forward(self._q), self.world.progress().turns_done)

    def descent(self, progress: TaskProgress | None = None) -> tuple[float, float]:
        """(turns since start, how far the wrist should be below its start pose [m]) without moving
        anything: for an operator who drives the wrist itself. `progress`: one already read this period."""
        if self._start is None:
            self.start()
        turns = (progress or self.world.progress()).turns_done - self._start[1]  # type: ignore[index]
        return float(turns), float(self.pitch_m * turns)

    def step(self) -> FollowStep:
        """One control period: read the turns, send the wrist target pitch x turns below the start."""
        turns, _ = self.descent()
        pose0, _ = self._start  # type: ignore[misc]
        pose = pose0.copy()
        pose[2] -= self.pitch_m * turns
        limits = self.arm.limits
        q = kinematics.inverse_nearest(pose, self._q, lower_rad=limits.lower_rad, upper_rad=limits.upper_rad)
        if q is None:  # out of reach: keep the last target (the arm holds) rather than jump
            q = self._q
        self._q = q
        self.arm.servo(q)
        return FollowStep(float(turns), float(self.pitch_m * turns), q.copy())
