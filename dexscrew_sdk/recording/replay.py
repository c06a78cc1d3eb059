"""Open-loop replay of a recorded episode's actions on a cell (the paper's "expert replay" baseline).

Runs through the cell's Arm and Hand interfaces only, so it replays on a twin,
the hardware-in-the-loop cell or the real robot alike; evaluation calls
`replay_episode` as one of its methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.recording.episode import Episode
from dexscrew_sdk.recording.errors import DatasetError
from dexscrew_sdk.recording.schema import ARM_SLICE, HAND_SLICE
from dexscrew_sdk.records import TaskProgress


@dataclass
class ReplayResult:
    episode_index: int
    steps: int
    rejected_commands: int
    max_arm_tracking_error_rad: float
    progress_ratio: list[float] = field(default_factory=list)  # per step (twins only)
    final_progress: TaskProgress | None = None

    def to_dict(self) -> dict[str, Any]:
        p = self.final_progress
        return {
            "episode_index": self.episode_index,
            "steps": self.steps,
            "rejected_commands": self.rejected_commands,
            "max_arm_tracking_error_rad": round(self.max_arm_tracking_error_rad, 5),
            "final_progress_ratio": None if p is None else round(p.ratio, 4),
            "fastened": None if p is None else p.fastened,
        }


class EpisodeReplayer:
    """Steps through an episode's recorded [hand, arm] targets, one control step per call.

    A trial loop that owns its own clock calls `step(cell)` once per period; past the
    end it holds the last targets. `replay_episode` is the whole run built on it.
    """

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        self.actions = np.asarray(episode["action_rad"], dtype=np.float64)
        if len(self.actions) == 0:
            raise DatasetError(f"episode {episode.index} has no steps to replay")
        self.skill_flags = np.asarray(episode["skill_on"], dtype=bool)
        self.index = 0
        self.rejected_commands = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.actions)

    @property
    def skill_on(self) -> bool:
        return bool(self.skill_flags[min(self.index, len(self.skill_flags) - 1)])

    def start_pose_rad(self) -> np.ndarray:
        """The recorded arm pose at the first step (the first target where it was not measured)."""
        q = self.episode["q_rad"][0, ARM_SLICE].astype(np.float64)
        return q if np.all(np.isfinite(q)) else self.actions[0, ARM_SLICE]

    def prepare(self, cell: Any, move_speed_rad_s: float = 0.5) -> None:
        """Move to the recorded start: arm by a blocking move, hand by its first target."""
        cell.arm.move_to(self.start_pose_rad(), speed_rad_s=move_speed_rad_s)
        cell.hand.command(self.actions[0, HAND_SLICE])

    def step(self, cell: Any) -> np.ndarray:
        """Send this step's targets; a rejected command is counted and the device keeps its last safe one."""
        row = self.actions[min(self.index, len(self.actions) - 1)]
        for device, send, part in ((cell.hand, "command", HAND_SLICE), (cell.arm, "servo", ARM_SLICE)):
            try:
                getattr(device, send)(row[part])
            except CommandRejected:
                self.rejected_commands += 1
        self.index += 1
        return row


def replay_episode(
    cell: Any,
    episode: Episode,
    *,
    reset_world: bool = True,
    seed: int | None = None,
    move_speed_rad_s: float = 0.5,
    on_step: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Reset the twin's scene as recorded (if it has a World), move to the first recorded pose,
    then send the recorded [hand, arm] targets one per control period."""
    hz = float(episode.meta["control_hz"])
    period = getattr(cell.clock, "period_s", None)
    if period is not None and abs(period * hz - 1.0) > 1e-6:
        raise DatasetError(
            f"episode {episode.index} was recorded at {hz} Hz but the cell runs at {1 / period:g} Hz; "
            f"set cell.control_hz = {hz:g} to replay it"
        )
    replayer = EpisodeReplayer(episode)
    has_world = "world" in getattr(cell, "devices", {})
    if has_world and reset_world:
        meta = episode.meta
        scene_seed = int(seed if seed is not None else (meta.get("seed") or 0))
        cell.world.reset(meta["task"], meta["shape"], seed=scene_seed, randomisation=meta.get("randomisation") or {})
    replayer.prepare(cell, move_speed_rad_s)
    result = ReplayResult(episode.index, 0, 0, 0.0)
    for i in cell.clock.ticks(len(replayer.actions)):
        replayer.step(cell)
        if i > 0:
            err = np.abs(cell.arm.state().q_rad - replayer.actions[i - 1, ARM_SLICE]).max()
            result.max_arm_tracking_error_rad = max(result.max_arm_tracking_error_rad, float(err))
        if has_world:
            result.progress_ratio.append(float(cell.world.progress().ratio))
        result.steps += 1
        if on_step is not None:
            on_step(i)
    result.rejected_commands = replayer.rejected_commands
    if has_world:
        result.final_progress = cell.world.progress()
    return result
