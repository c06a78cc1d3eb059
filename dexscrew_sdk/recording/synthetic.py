"""Synthetic 20 Hz steps with tactile, for tests, fixtures and the recorder benchmark (no cell needed).

The trajectories are smooth and seeded (a slow wrist sweep with the skill toggled on
for the middle half and fingertip contact while it is on), with idle head and tail
steps so trimming has something to remove.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.recording.recorder import FinishedEpisode, Recorder
from dexscrew_sdk.recording.schema import EpisodeMeta, OperatorEvent, StepRecord
from dexscrew_sdk.records import ArmState, DeviceMode, HandState, TactileFrame, TaskProgress

_HAND_MID = 0.5 * (joints.XHAND_LOWER_RAD + joints.XHAND_UPPER_RAD)
_HAND_SPAN = joints.XHAND_UPPER_RAD - joints.XHAND_LOWER_RAD


def synthetic_meta(task: str = "nut", shape: str = "square", seed: int = 0, control_hz: float = 20.0) -> EpisodeMeta:
    return EpisodeMeta(
        task=task,
        shape=shape,
        cell="synthetic",
        cell_kind="synthetic",
        control_hz=control_hz,
        seed=seed,
        operator_device="synthetic",
        operator_params={"seed": seed},
    )


def synthetic_steps(
    n_steps: int, seed: int = 0, control_hz: float = 20.0, idle_steps: int = 5, start_ns: int | None = None
) -> Iterator[StepRecord]:
    """Steps with measured-looking stamps: each source sampled a little before the step time."""
    rng = np.random.default_rng(seed)
    period_ns = round(1e9 / control_hz)
    t0 = time.monotonic_ns() if start_ns is None else start_ns
    moving = max(1, n_steps - 2 * idle_steps)
    phase0 = rng.uniform(0, 2 * np.pi)
    for i in range(n_steps):
        k = min(max(i - idle_steps, 0), moving - 1)  # idle head and tail: targets frozen
        s = k / moving
        arm_q = joints.UR5E_HOME_RAD + 0.1 * np.sin(2 * np.pi * s + phase0) * np.array([1, 0.3, -0.3, 0, 0.5, 1])
        skill_on = 0.25 <= s < 0.75
        hand_q = _HAND_MID + (0.25 * _HAND_SPAN * np.sin(4 * np.pi * s) if skill_on else 0.0)  # within limits
        stamp = t0 + i * period_ns
        tactile = np.zeros(joints.TACTILE_SHAPE, np.float32)
        if skill_on:
            tactile[:3, rng.integers(0, 120, 12), 2] = rng.uniform(0.05, 2.0, (3, 12)).astype(np.float32)
        ops = OperatorEvent.NONE
        if i == idle_steps:
            ops |= OperatorEvent.CLUTCH_PRESS
        turns = 4.0 * min(1.0, max(0.0, (s - 0.25) * 2))
        yield StepRecord(
            step_index=i,
            stamp_ns=stamp,
            clock_time_s=i / control_hz,
            hand_target_rad=hand_q,
            arm_target_rad=arm_q,
            hand_cmd_seq=i,
            arm_cmd_seq=i,
            arm=ArmState(
                i,
                stamp - 2_000_000,
                arm_q + rng.normal(0, 1e-4, 6),
                np.zeros(6),
                np.zeros(6),
                np.zeros(6),
                DeviceMode.SERVOING,
                i - 1,
            ),
            hand=HandState(i, stamp - 3_000_000, hand_q + rng.normal(0, 1e-4, 12), np.zeros(12), DeviceMode.SERVOING),
            tactile=TactileFrame(i, stamp - 4_000_000, tactile),
            skill_on=skill_on,
            clutch=i >= idle_steps,
            operator_events=ops,
            progress=TaskProgress(turns, 4.0, turns >= 4.0, i / control_hz, "nut", "square"),
        )


def record_synthetic_dataset(
    root: Path | str,
    episodes: int = 3,
    steps: int = 40,
    seed: int = 0,
    tasks: tuple[tuple[str, str], ...] = (("nut", "square"),),
    fsync: str = "episode",
) -> list[FinishedEpisode]:
    """A small finished dataset: episode i has task tasks[i % len], seed seed+i, success on even i."""
    done: list[FinishedEpisode] = []
    with Recorder(root, fsync=fsync) as rec:
        handles = []
        for i in range(episodes):
            task, shape = tasks[i % len(tasks)]
            ep = rec.begin(synthetic_meta(task, shape, seed + i))
            for step in synthetic_steps(steps, seed + i):
                ep.append(step)
            handles.append(ep.end(success=i % 2 == 0))
        done = [h.wait() for h in handles]
    return done
