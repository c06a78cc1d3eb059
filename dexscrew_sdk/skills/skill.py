"""`Skill`: a finger-rotation policy started on any `Hand`, one `step()` per 20 Hz control period.

The skill keeps its own observation history (canonical joint order), turns each
action into a new position target (previous target + scale x action, clipped
to the skill's and the hand's limits) and sends it with `hand.command`. A
non-finite action is never sent: the skill keeps its previous target instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dexscrew_sdk import resources
from dexscrew_sdk.interfaces import Hand
from dexscrew_sdk.skills import layout
from dexscrew_sdk.skills.policy import SkillError, SkillMetadata, load_policy


class _Waits(Protocol):
    def wait(self) -> None: ...


@dataclass
class SkillRunStats:
    steps: int
    nan_actions: int
    duration_s: float


class Skill:
    """Load with `Skill.load(path)` or `Skill.official(task)`; then start(hand), step() ..., stop()."""

    def __init__(self, policy: Callable[[np.ndarray, np.ndarray], np.ndarray], meta: SkillMetadata) -> None:
        self.policy, self.meta = policy, meta
        self.hand: Hand | None = None
        self.target: np.ndarray | None = None
        self.nan_actions = 0
        self.steps = 0
        self._hist = np.zeros((meta.hist_len, layout.FRAME_DIM))
        self._fresh = False
        self._lo = self._hi = np.zeros(layout.DOF)  # set by start()

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | Path, backend: str = "auto") -> Skill:
        """An exported skill (folder with skill.pt + skill.json, or the .pt) or a released checkpoint;
        `backend`: see `load_policy`."""
        policy, meta = load_policy(Path(path), backend)
        return cls(policy, meta)

    @classmethod
    def official(cls, task: str, folder: str | Path | None = None) -> Skill:
        """The authors' released checkpoint for `task` ("nut" or "screwdriver"), from `folder`, else
        $DEXSCREW_OFFICIAL_DIR, else a development checkout's ../shared/external/dexscrew_official."""
        path = resources.official_dir(folder) / layout.OFFICIAL_FILES[layout.check_task(task)]
        if not path.is_file():
            raise SkillError(
                f"released checkpoint {path} not found: pass its folder or set {resources.OFFICIAL_DIR_ENV} "
                "(see external/dexscrew_official/README.md)"
            )
        return cls.load(path)

    @property
    def backend(self) -> str:
        """What evaluates the network: "numpy" (an exported graph that matched torch at load) or "torch"."""
        return str(getattr(self.policy, "backend", "torch"))

    # --------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        return self.hand is not None

    def _limits(self, hand: Hand) -> tuple[np.ndarray, np.ndarray]:
        lo = np.maximum(self.meta.lower_rad, hand.limits.lower_rad)
        hi = np.minimum(self.meta.upper_rad, hand.limits.upper_rad)
        return lo, np.maximum(lo, hi)

    def start(self, hand: Hand, *, initial: str = "pose") -> None:
        """Take over `hand`. initial="pose": targets start at the skill's grasp pose;
        "current": at the hand's current joint positions (skill switched on mid-task)."""
        if initial not in ("pose", "current"):
            raise ValueError(f"initial must be 'pose' or 'current', got {initial!r}")
        q = hand.state().q_rad
        self._lo, self._hi = lo, hi = self._limits(hand)  # fixed for the run: not recomputed every step
        base = self.meta.initial_targets_rad if initial == "pose" else q
        self.target = np.clip(base, lo, hi)
        if self.meta.source == "official" and initial == "pose":
            frame = self.meta.history_fill  # the authors' deploy script starts from this frame
        else:
            frame = np.concatenate([q if initial == "current" else self.target, self.target])
        self._hist[:] = frame
        self.hand, self._fresh, self.steps, self.nan_actions = hand, True, 0, 0
        hand.command(self.target)

    def step(self) -> np.ndarray:
        """One control period: observe the hand, act, command the new target; returns it."""
        hand = self.hand
        if hand is None or self.target is None:
            raise SkillError("step() before start(): call skill.start(hand) first")
        q = np.asarray(hand.state().q_rad, dtype=np.float64)
        if not self._fresh and np.isfinite(q).all():
            hist, n = self._hist, layout.DOF
            hist[:-1] = hist[1:]  # shift in place (numpy buffers the overlap): np.roll allocated a copy per step
            hist[-1, :n], hist[-1, n:] = q, self.target
        self._fresh = False
        action = np.asarray(self.policy(self._hist[-layout.OBS_FRAMES :], self._hist), dtype=np.float64)
        if action.shape != (layout.DOF,) or not np.isfinite(action).all():
            self.nan_actions += 1  # hold the previous target: a bad action never reaches the hand
        else:
            action = np.where(self.meta.mask, 0.0, np.clip(action, -1.0, 1.0))
            self.target = np.clip(self.target + self.meta.action_scale * action, self._lo, self._hi)
        hand.command(self.target)
        self.steps += 1
        return self.target.copy()

    def stop(self) -> None:
        """Release the hand, holding its current joint positions. Safe to call twice."""
        hand, self.hand = self.hand, None
        if hand is None:
            return
        q = np.asarray(hand.state().q_rad, dtype=np.float64)
        if np.isfinite(q).all():
            hand.command(hand.limits.clip(q))

    def run(
        self, hand: Hand, clock: _Waits, duration_s: float, on_step: Callable[[int], Any] | None = None
    ) -> SkillRunStats:
        """Convenience loop: start, one step per `clock.wait()` for duration_s at the skill's rate, stop."""
        n = round(duration_s * self.meta.control_hz)
        t0 = time.monotonic()
        self.start(hand)
        try:
            for i in range(n):
                self.step()
                if on_step is not None:
                    on_step(i)
                clock.wait()
        finally:
            steps, nans = self.steps, self.nan_actions
            self.stop()
        return SkillRunStats(steps, nans, time.monotonic() - t0)
