"""Who drives the hand during teleoperation: the skill while it is on, otherwise a held target.

Skill on: the skill runtime computes and sends each target. Skill off: the hand
holds the positions it had when the skill stopped (or a preset), and that held
target is what is sent and recorded, as in the method. Every command goes
through `_Tap`, so the session knows the seq and target actually in effect,
also when the safety layer rejected one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.interfaces import Hand
from dexscrew_sdk.skills.skill import Skill
from dexscrew_sdk.teleop.command import Preset


class _Tap:
    """The hand as the skill sees it, remembering what was sent (duck-types the `Hand` the skill uses)."""

    def __init__(self, hand: Hand) -> None:
        self.hand = hand
        self.seq = -1
        self.target: np.ndarray | None = None
        self.rejected: np.ndarray | None = None

    @property
    def limits(self) -> Any:
        return self.hand.limits

    def state(self) -> Any:
        return self.hand.state()

    def command(self, q_target_rad: object, **kwargs: Any) -> int:
        try:
            seq = self.hand.command(q_target_rad, **kwargs)
        except CommandRejected:
            self.rejected = np.asarray(q_target_rad, dtype=float)
            raise
        self.seq, self.target = seq, np.asarray(q_target_rad, dtype=float).copy()
        return seq


@dataclass
class HandStep:
    target_rad: np.ndarray  # in effect after this step
    cmd_seq: int
    rejected_rad: np.ndarray | None
    skill_started: bool
    skill_stopped: bool


class HandControl:
    def __init__(self, hand: Hand, skill: Skill | None, open_rad: np.ndarray | None = None) -> None:
        self.tap = _Tap(hand)
        self.skill = skill
        lo, hi = hand.limits.lower_rad, hand.limits.upper_rad
        self.open_rad = np.clip(np.zeros(len(lo)) if open_rad is None else open_rad, lo, hi)
        self.hold = self._here()
        self._grasped = False  # a grasp preset since the skill last ran: start the skill from its pose

    @property
    def skill_on(self) -> bool:
        return self.skill is not None and self.skill.running

    def reset(self) -> None:
        """New episode: stop any skill, hold where the hand is."""
        if self.skill_on:
            self.skill.stop()  # type: ignore[union-attr]
        self.hold = self._here()
        self._grasped = False

    def _here(self) -> np.ndarray:
        # A joint resting on its limit reads a hair past it (the engine's or the encoder's): hold the nearest
        # target the safety layer accepts instead of having every hold command refused.
        return self.tap.limits.clip(np.asarray(self.tap.state().q_rad, dtype=float))

    def grasp_target(self) -> np.ndarray:
        if self.skill is None:
            return self.hold
        return np.clip(self.skill.meta.initial_targets_rad, self.tap.limits.lower_rad, self.tap.limits.upper_rad)

    def step(self, want_skill: bool, preset: Preset) -> HandStep:
        started = stopped = False
        self.tap.rejected = None
        if preset != Preset.NONE:
            want_skill = False  # a preset takes the hand: the skill stops
        if self.skill_on and not want_skill:
            self.skill.stop()  # type: ignore[union-attr]  # commands the current positions
            self.hold = self.tap.target.copy() if self.tap.target is not None else self.hold
            stopped = True
        if preset == Preset.GRASP:
            self.hold, self._grasped = self.grasp_target().copy(), True
        elif preset == Preset.RELEASE:
            self.hold, self._grasped = self.open_rad.copy(), False
        if want_skill and self.skill is not None and not self.skill_on:
            self.skill.start(self.tap, initial="pose" if self._grasped else "current")  # type: ignore[arg-type]
            self._grasped, started = False, True
        try:
            if self.skill_on:
                self.skill.step()  # type: ignore[union-attr]
            else:
                self.tap.command(self.hold)  # holding is also a command: it keeps the hand's watchdog fed
        except CommandRejected:
            pass  # the command in effect stays the previous one; the step records the rejected target
        target = self.tap.target if self.tap.target is not None else self.hold
        return HandStep(target.copy(), self.tap.seq, self.tap.rejected, started, stopped)
