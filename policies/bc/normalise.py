"""Normalisation computed from a dataset and stored in the checkpoint.

Observations: each channel's robust range [p2, p98] maps to [-1, 1], clipped to +-1.5
(method.md). A robust range narrower than the channel's physical floor (`min_span`) is
widened to the channel's full observed [min, max], then, if still narrower, to the floor
around its centre. Why: a fingertip taxel that is zero in more than 98 % of the frames
has p2 = p98 = 0; the authors' fallback span of 1 then sends a 3 N contact to 6 -> clipped
at 1.5, so touch saturates exactly when it matters. With the widening, that taxel maps
0 N -> -1 and its largest recorded force -> +1: contacts stay distinct and in range.
A joint that barely moves in the data is not blown up either (its floor is 0.05 rad).

Actions: per channel min-max to [-1, 1] (a constant channel gets a 1 mrad span, so a
finger held at its limit maps to [limit - 0.5 mrad, limit + 0.5 mrad]; the recorded
range is kept beside it for the deployment check), not clipped; the policy's outputs
are clipped to [-1, 1] before mapping back to radians.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from policies.bc.layout import BCError

OBS_PERCENTILES = (2.0, 98.0)
OBS_CLIP = 1.5
JOINT_MIN_SPAN_RAD = 0.05
TACTILE_MIN_SPAN_N = 1.0  # 20 x the 0.05 N detection threshold (joints.TACTILE_THRESHOLD_N)
ACTION_MIN_SPAN_RAD = 1e-3
MAX_PERCENTILE_FRAMES = 20_000  # percentiles from an even subsample; min and max from every frame


@dataclass
class RangeNorm:
    """Affine map of [lo, hi] per channel onto [-1, 1], optionally clipped."""

    lo: np.ndarray
    hi: np.ndarray
    clip: float | None = None

    def __post_init__(self) -> None:
        self.lo = np.asarray(self.lo, dtype=np.float64)
        self.hi = np.asarray(self.hi, dtype=np.float64)
        if self.lo.shape != self.hi.shape or not (np.isfinite(self.lo).all() and np.isfinite(self.hi).all()):
            raise BCError("normalisation ranges must be finite and of equal shape")
        if (self.hi <= self.lo).any():
            raise BCError("normalisation ranges must have hi > lo in every channel")

    @property
    def scale(self) -> np.ndarray:
        return 2.0 / (self.hi - self.lo)

    @property
    def offset(self) -> np.ndarray:
        return -1.0 - self.lo * self.scale

    def normalise(self, x: np.ndarray) -> np.ndarray:
        y = x * self.scale + self.offset
        return y if self.clip is None else np.clip(y, -self.clip, self.clip)

    def denormalise(self, y: np.ndarray) -> np.ndarray:
        return self.lo + (np.asarray(y) + 1.0) * 0.5 * (self.hi - self.lo)

    def to_dict(self) -> dict[str, Any]:
        return {"lo": self.lo.tolist(), "hi": self.hi.tolist(), "clip": self.clip}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RangeNorm:
        return cls(np.asarray(d["lo"]), np.asarray(d["hi"]), d.get("clip"))


def robust_range(
    sample: np.ndarray, full_min: np.ndarray, full_max: np.ndarray, min_span: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[p2, p98] of `sample` (N, C), widened where narrower than min_span (see module docstring)."""
    lo, hi = np.percentile(sample.astype(np.float64), OBS_PERCENTILES, axis=0)
    floor = np.broadcast_to(np.asarray(min_span, dtype=np.float64), lo.shape)
    narrow = (hi - lo) < floor
    lo = np.where(narrow, np.minimum(lo, full_min), lo)
    hi = np.where(narrow, np.maximum(hi, full_max), hi)
    short = (hi - lo) < floor
    centre = 0.5 * (lo + hi)
    return np.where(short, centre - 0.5 * floor, lo), np.where(short, centre + 0.5 * floor, hi)


def minmax_range(full_min: np.ndarray, full_max: np.ndarray, min_span: float) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.asarray(full_min, np.float64), np.asarray(full_max, np.float64)
    short = (hi - lo) < min_span
    centre = 0.5 * (lo + hi)
    return np.where(short, centre - 0.5 * min_span, lo), np.where(short, centre + 0.5 * min_span, hi)


class _Stream:
    """Min, max over every frame and an even subsample of frames, fed one episode at a time."""

    def __init__(self, stride: int) -> None:
        self.stride = max(1, stride)
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None
        self.parts: list[np.ndarray] = []
        self._seen = 0

    def add(self, x: np.ndarray) -> None:
        lo, hi = x.min(axis=0), x.max(axis=0)
        self.min = lo if self.min is None else np.minimum(self.min, lo)
        self.max = hi if self.max is None else np.maximum(self.max, hi)
        first = (-self._seen) % self.stride
        self.parts.append(np.asarray(x[first :: self.stride], dtype=np.float32))
        self._seen += len(x)

    def sample(self) -> np.ndarray:
        return np.concatenate(self.parts)


def relative_chunk_actions(q: np.ndarray, action: np.ndarray, horizon: int) -> np.ndarray:
    """Every value a relative chunk of one episode can hold: action[t + j] - q[t] for j < H (past the last
    step the last action, as the windows hold), (T * H, D). The normalisation's range is taken over these."""
    q, action = np.asarray(q), np.asarray(action)
    n = len(q)
    steps = np.arange(n)
    return np.concatenate([action[np.minimum(steps + j, n - 1)] - q for j in range(horizon)])


@dataclass
class Normaliser:
    q: RangeNorm
    tactile: RangeNorm | None
    action: RangeNorm
    action_min_rad: np.ndarray  # the recorded range (the scaling range may be wider: constant channels)
    action_max_rad: np.ndarray
    frames: int = 0  # frames the ranges were computed from

    @classmethod
    def fit(
        cls,
        episodes: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
        total_frames: int,
        relative_horizon: int = 0,
    ) -> Normaliser:
        """From (q (T, 18), tactile (T, 1800) or None, action (T, 18)) per episode. `relative_horizon` H > 0:
        the action scaling covers relative chunks of H steps (`relative_chunk_actions`); the recorded range
        (`action_min_rad`, `action_max_rad`, checked against a cell's limits) stays the absolute targets'."""
        stride = max(1, total_frames // MAX_PERCENTILE_FRAMES)
        q_s, t_s, a_s, rec_s = _Stream(stride), _Stream(stride), _Stream(stride), _Stream(stride)
        frames, has_touch = 0, False
        for q, tactile, action in episodes:
            q_s.add(np.asarray(q))
            rec_s.add(np.asarray(action))
            a_s.add(relative_chunk_actions(q, action, relative_horizon) if relative_horizon else np.asarray(action))
            if tactile is not None:
                has_touch = True
                t_s.add(np.asarray(tactile))
            frames += len(q)
        if frames == 0 or q_s.min is None or a_s.min is None or rec_s.min is None:
            raise BCError("cannot compute normalisation from zero frames")
        q_lo, q_hi = robust_range(q_s.sample(), q_s.min, q_s.max, JOINT_MIN_SPAN_RAD)
        tactile = None
        if has_touch and t_s.min is not None and t_s.max is not None:
            t_lo, t_hi = robust_range(t_s.sample(), t_s.min, t_s.max, TACTILE_MIN_SPAN_N)
            tactile = RangeNorm(t_lo, t_hi, OBS_CLIP)
        a_lo, a_hi = minmax_range(a_s.min, a_s.max, ACTION_MIN_SPAN_RAD)
        a_min, a_max = np.asarray(rec_s.min, np.float64), np.asarray(rec_s.max, np.float64)
        return cls(RangeNorm(q_lo, q_hi, OBS_CLIP), tactile, RangeNorm(a_lo, a_hi), a_min, a_max, frames)

    def to_dict(self) -> dict[str, Any]:
        return {
            "q": self.q.to_dict(),
            "tactile": None if self.tactile is None else self.tactile.to_dict(),
            "action": self.action.to_dict(),
            "action_min_rad": np.asarray(self.action_min_rad).tolist(),
            "action_max_rad": np.asarray(self.action_max_rad).tolist(),
            "frames": self.frames,
            "rule": {
                "observations": f"p{OBS_PERCENTILES[0]:g}-p{OBS_PERCENTILES[1]:g} -> [-1, 1], clip {OBS_CLIP}",
                "narrow_channels": "widened to the observed [min, max], then to the floor",
                "floors": {"q_rad": JOINT_MIN_SPAN_RAD, "tactile_n": TACTILE_MIN_SPAN_N},
                "actions": "min-max -> [-1, 1] (of the relative chunks when the layout's actions are relative)",
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normaliser:
        try:
            t = d.get("tactile")
            return cls(
                RangeNorm.from_dict(d["q"]),
                None if t is None else RangeNorm.from_dict(t),
                RangeNorm.from_dict(d["action"]),
                np.asarray(d["action_min_rad"], np.float64),
                np.asarray(d["action_max_rad"], np.float64),
                int(d.get("frames", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise BCError(f"checkpoint normalisation is incomplete: {exc!r}") from None
