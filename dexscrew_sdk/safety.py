"""Limits enforced where commands enter a device, twin or real.

Every check returns a clean float64 copy or raises `CommandRejected` naming the
offending joint and value, so a rejected command never touches the device and
the device keeps its last safe command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dexscrew_sdk.errors import CommandRejected


def as_vector(value: object, size: int, what: str) -> np.ndarray:
    """A finite float64 vector of exactly `size` entries, or CommandRejected.

    Entries must be numbers: a numeric string ("0.1") or None is refused as what it is, never converted."""
    if type(value) is np.ndarray and value.dtype.kind == "f":  # the common case: already numbers
        arr = np.array(value, dtype=np.float64)
    else:
        arr = _numeric(value, what)
    if arr.shape != (size,):
        raise CommandRejected(f"{what}: expected shape ({size},), got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CommandRejected(f"{what}: entry {i} is {arr[i]} (NaN/inf rejected)")
    return arr


def _numeric(value: object, what: str) -> np.ndarray:
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting and the like
        raise CommandRejected(f"{what}: not a vector of numbers ({exc})") from None
    if raw.dtype.kind not in "iuf":
        items = (
            value if isinstance(value, (list, tuple)) else (raw.reshape(-1) if raw.ndim else raw.reshape(1)).tolist()
        )
        for i, x in enumerate(items):
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
                raise CommandRejected(f"{what}: entry {i} is {x!r} ({type(x).__name__}), not a number")
        raise CommandRejected(f"{what}: entries must be numbers, got dtype {raw.dtype}")
    return np.array(raw, dtype=np.float64)


@dataclass(frozen=True)
class JointLimits:
    names: tuple[str, ...]
    lower_rad: np.ndarray
    upper_rad: np.ndarray
    max_speed_rad_s: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.names)
        for field_name in ("lower_rad", "upper_rad", "max_speed_rad_s"):
            arr = np.asarray(getattr(self, field_name), dtype=np.float64)
            if arr.shape != (n,) or not np.isfinite(arr).all():
                raise ValueError(f"JointLimits.{field_name} must be {n} finite values, got {arr}")
            object.__setattr__(self, field_name, arr)
        if (self.lower_rad > self.upper_rad).any():
            raise ValueError("JointLimits: lower_rad exceeds upper_rad")
        if (self.max_speed_rad_s <= 0).any():
            raise ValueError("JointLimits: max_speed_rad_s must be positive")

    @property
    def dof(self) -> int:
        return len(self.names)

    def narrowed(
        self,
        lower_rad: Sequence[float] | None = None,
        upper_rad: Sequence[float] | None = None,
        max_speed_rad_s: Sequence[float] | None = None,
    ) -> JointLimits:
        """Limits from configuration may only tighten the hardware's own."""
        lo = self.lower_rad if lower_rad is None else np.maximum(self.lower_rad, lower_rad)
        hi = self.upper_rad if upper_rad is None else np.minimum(self.upper_rad, upper_rad)
        sp = self.max_speed_rad_s if max_speed_rad_s is None else np.minimum(self.max_speed_rad_s, max_speed_rad_s)
        return JointLimits(self.names, lo, hi, sp)

    def check_position(self, value: object, what: str) -> np.ndarray:
        q = as_vector(value, self.dof, what)
        out = (q < self.lower_rad) | (q > self.upper_rad)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise CommandRejected(
                f"{what}: joint {self.names[i]} = {q[i]:.4f} rad is outside "
                f"[{self.lower_rad[i]:.4f}, {self.upper_rad[i]:.4f}]"
            )
        return q

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, self.lower_rad, self.upper_rad)


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box the TCP must stay in, metres, arm base frame."""

    min_xyz_m: tuple[float, float, float] = (-1.0, -1.0, -0.05)
    max_xyz_m: tuple[float, float, float] = (1.0, 1.0, 1.2)

    def check(self, tcp_xyz_m: np.ndarray, what: str) -> None:
        lo, hi = np.asarray(self.min_xyz_m), np.asarray(self.max_xyz_m)
        out = (tcp_xyz_m < lo) | (tcp_xyz_m > hi)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise CommandRejected(
                f"{what}: TCP {'xyz'[i]} = {tcp_xyz_m[i]:.3f} m is outside the workspace [{lo[i]:.3f}, {hi[i]:.3f}]"
            )


def check_gains(value: object, size: int, what: str) -> np.ndarray:
    gains = as_vector(value, size, what)
    if (gains < 0).any():
        raise CommandRejected(f"{what}: gains must be >= 0, got {gains}")
    return gains
