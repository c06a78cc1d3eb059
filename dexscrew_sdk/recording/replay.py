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
    actions = np.asarray(episode["action_rad"], dtype=np.float64)
    if len(actions) == 0:
        raise DatasetError(f"episode {episode.index} has no steps to replay")
    has_world = "world" in getattr(cell, "devices", {})
    if has_world and reset_world:
        meta = episode.meta
        scene_seed = int(seed if seed is not None else (meta.get("seed") or 0))
        cell.world.reset(meta["task"], meta["shape"], seed=scene_seed, randomisation=meta.get("randomisation") or {})
    start_arm = episode["q_rad"][0, ARM_SLICE].astype(np.float64)
    if not np.all(np.isfinite(start_arm)):
        start_arm = actions[0, ARM_SLICE]
    cell.arm.move_to(start_arm, speed_rad_s=move_speed_rad_s)
    cell.hand.command(actions[0, HAND_SLICE])
    result = ReplayResult(episode.index, 0, 0, 0.0)
    for i in cell.clock.ticks(len(actions)):
        for device, send, target in ((cell.hand, "command", HAND_SLICE), (cell.arm, "servo", ARM_SLICE)):
            try:
                getattr(device, send)(actions[i, target])
            except CommandRejected:
                result.rejected_commands += 1  # the device keeps its last safe command; replay goes on
        if i > 0:
            err = np.abs(cell.arm.state().q_rad - actions[i - 1, ARM_SLICE]).max()
            result.max_arm_tracking_error_rad = max(result.max_arm_tracking_error_rad, float(err))
        if has_world:
            result.progress_ratio.append(float(cell.world.progress().ratio))
        result.steps += 1
        if on_step is not None:
            on_step(i)
    if has_world:
        result.final_progress = cell.world.progress()
    return result
