"""Evaluate skills in the simplified world through the real skill runtime.

Each environment of one RevoluteWorld gets its own `Skill` driving a `Hand`
adapter of that environment, so the figure measures exactly what a user runs:
history, target integration, masks, limits and NaN guard included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dexscrew_sdk import joints
from dexscrew_sdk.interfaces import Hand
from dexscrew_sdk.records import DeviceInfo, DeviceMode, HandState
from dexscrew_sdk.skills import Skill
from dexscrew_sdk.skills.policy import official_metadata
from policies.rl.backends.base import WorldState
from policies.rl.backends.pybullet import _make_world, _read
from policies.rl.config import TaskConfig
from policies.rl.task import Termination


class EnvHand(Hand):
    """One environment of a RevoluteWorld seen through the Hand interface."""

    def __init__(self, world, index: int, targets: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.world, self.index, self.targets = world, index, targets
        self._state_seq = 0

    def info(self) -> DeviceInfo:
        return DeviceInfo("hand", "revolute-world-env", joints.HAND_JOINT_NAMES)

    def state(self) -> HandState:
        self._state_seq += 1
        q = self.world.hand_q()[self.index]
        return HandState(
            self._state_seq, time.monotonic_ns(), q, self.world.hand_torque()[self.index], DeviceMode.SERVOING
        )

    def _apply_command(self, q_rad: np.ndarray, kp, kd, seq: int) -> None:  # type: ignore[no-untyped-def]
        self.targets[self.index] = q_rad

    def _apply_stop(self) -> None:
        self.targets[self.index] = self.world.hand_q()[self.index]


@dataclass
class EvalResult:
    rad_per_s: list[float]  # per episode, over the time it ran
    terminated: list[bool]
    seconds: float

    def summary(self, target_rad_s: float = 1.0) -> dict[str, float]:
        ok = [r >= target_rad_s and not t for r, t in zip(self.rad_per_s, self.terminated, strict=True)]
        return {
            "rad_per_s": float(np.mean(self.rad_per_s)),
            "episodes_meeting_target": int(sum(ok)),
            "episodes": len(ok),
            "terminated": int(sum(self.terminated)),
        }


def _state(world) -> WorldState:  # type: ignore[no-untyped-def]
    s = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in _read(world).items()}
    s["contact"] = s["contact"].bool()
    return WorldState(**s)


def trained_clamped(skill_dir: Path) -> bool:
    """Whether an exported skill was trained with the hand's torques clamped to the effective effort array
    (skill.json training.torques; skills exported before the field existed were)."""
    training = json.loads((Path(skill_dir) / "skill.json").read_text()).get("training") or {}
    return training.get("torques", "clamped") == "clamped"


def evaluate(
    make_skill: Callable[[], Skill],
    task: str,
    episodes: int = 10,
    seconds: float = 40.0,
    seed: int = 0,
    clamp_torques: bool = True,
) -> EvalResult:
    """`episodes` seeded episodes in parallel (one world); each ends at `seconds` or on method.md termination."""
    world = _make_world(task, episodes, seed, randomise=True, clamp_torques=clamp_torques)
    try:
        targets = world.targets() if hasattr(world, "targets") else world.hand_q()
        skills = [make_skill() for _ in range(episodes)]
        for e, sk in enumerate(skills):
            sk.start(EnvHand(world, e, targets))
        world.step(targets)  # the initial grasp targets take effect
        s = _state(world)
        watch = Termination(TaskConfig.for_task(task).termination, episodes, torch.device("cpu"))
        ids = torch.arange(episodes)
        watch.reset(ids, s.angle)
        start = s.angle.clone()
        end_angle, end_step = s.angle.clone(), torch.full((episodes,), -1)
        live = torch.ones(episodes, dtype=torch.bool)
        steps = round(seconds * 20.0)
        for k in range(steps):
            for e in np.flatnonzero(live.numpy()):
                skills[e].step()
            world.step(targets)
            s = _state(world)
            done = watch.update(s) & live
            for e in np.flatnonzero(done.numpy()):
                skills[e].stop()
                end_angle[e], end_step[e] = s.angle[e], k + 1
            live &= ~done
            end_angle = torch.where(live, s.angle, end_angle)
        end_step = torch.where(end_step < 0, torch.full_like(end_step, steps), end_step)
        rate = ((end_angle - start) / (end_step.float() / 20.0)).tolist()
        return EvalResult(rate, [bool(x) for x in (end_step < steps).tolist()], seconds)
    finally:
        world.close()


DEFAULT_TWIN_SHAPES = {"nut": "triangular", "screwdriver": "octagon"}


def turns_in_full_twin(
    make_skill: Callable[[], Skill], task: str, seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5), seconds: float = 15.0
) -> dict[str, float]:
    """Turns done (positive = fastening) in the full twin with the arm held still: the nominal scene, then
    `randomisation={"enabled": True}` with each seed. In-process, one skill step per 50 ms of simulated time."""
    from twins.cell import TwinCell

    cell = TwinCell()
    try:
        out = {}
        for name, seed, rnd in [("nominal", 0, None)] + [(f"seed{s}", s, {"enabled": True}) for s in seeds]:
            cell.world.reset(task, DEFAULT_TWIN_SHAPES[task], seed=seed, randomisation=rnd)
            skill = make_skill()
            skill.start(cell.hand)
            for _ in range(round(seconds * 20.0)):
                skill.step()
                cell.advance(0.05)
            skill.stop()
            out[name] = cell.world.progress().turns_done
        return out
    finally:
        cell.close()


def random_skill(task: str, seed: int = 0) -> Callable[[], Skill]:
    """Factory of a uniform-random policy with the released skills' layout (the baseline)."""
    rng = np.random.default_rng(seed)

    def make() -> Skill:
        meta = official_metadata(task, joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
        return Skill(lambda frames, hist: rng.uniform(-1.0, 1.0, joints.HAND_DOF), meta)

    return make
