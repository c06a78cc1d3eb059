"""The operator command: one record per control step, whatever the input device.

A device declares whether its motion is a wrist twist (rates, integrated over
the control period) or a pose increment (applied once), and in which frame
(the arm base, or the tool frame at the grasp centre). Clutch, speed scale and
skill are levels (the device keeps them); presets, episode events and marks are
one-shot events carried by the step on which they happen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from dexscrew_sdk.errors import DexscrewError


class TeleopError(DexscrewError, ValueError):
    """An operator command, device or wrist-control setting is invalid."""


class MotionKind(enum.Enum):
    TWIST = "twist"  # (vx, vy, vz) m/s, (wx, wy, wz) rad/s
    POSE_DELTA = "pose_delta"  # (dx, dy, dz) m, rotation vector rad, applied once


class Frame(enum.Enum):
    BASE = "base"  # arm base axes, rotation about the tool centre
    TOOL = "tool"  # tool axes: z along the object's axis


class Preset(enum.Enum):
    NONE = "none"
    GRASP = "grasp"  # fingers to the skill's initial targets (skill off)
    RELEASE = "release"  # fingers open (skill off)


class EpisodeEvent(enum.Enum):
    NONE = "none"
    START = "start"
    END = "end"  # keep the episode
    RERECORD = "rerecord"  # drop it and record it again
    DISCARD = "discard"  # drop it
    QUIT = "quit"  # end the session (the running episode is kept, as with END)


class Mark(enum.Enum):
    NONE = "none"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class OperatorCommand:
    """What the operator asked for during one control step."""

    kind: MotionKind = MotionKind.TWIST
    motion: np.ndarray = field(default_factory=lambda: np.zeros(6))
    frame: Frame = Frame.BASE
    clutch: bool = False  # motion moves the wrist only while engaged
    speed_scale: float = 1.0  # 0..1, multiplies motion
    skill_on: bool = False
    preset: Preset = Preset.NONE
    episode: EpisodeEvent = EpisodeEvent.NONE
    mark: Mark = Mark.NONE
    stamp_ns: int = 0  # when the device produced it (time.monotonic_ns())
    seq: int = 0

    def __post_init__(self) -> None:
        for name, kind in (
            ("kind", MotionKind),
            ("frame", Frame),
            ("preset", Preset),
            ("episode", EpisodeEvent),
            ("mark", Mark),
        ):
            if not isinstance(getattr(self, name), kind):
                raise TeleopError(f"operator command: {name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        try:
            motion = np.array(self.motion, dtype=np.float64)
        except (TypeError, ValueError):
            raise TeleopError(f"operator command: motion is not numeric: {self.motion!r}") from None
        if motion.shape != (6,) or not np.isfinite(motion).all():
            raise TeleopError(f"operator command: motion must be 6 finite numbers, got {self.motion!r}")
        scale = float(self.speed_scale)
        if not 0.0 <= scale <= 1.0:
            raise TeleopError(f"operator command: speed_scale must be in [0, 1], got {self.speed_scale!r}")
        object.__setattr__(self, "motion", motion)
        object.__setattr__(self, "speed_scale", scale)

    @property
    def moving(self) -> bool:
        return self.clutch and self.speed_scale > 0.0 and bool(np.any(self.motion != 0.0))

    def to_dict(self) -> dict[str, object]:
        """Plain values for recording (enums by name)."""
        return {
            "kind": self.kind.value,
            "motion": self.motion.tolist(),
            "frame": self.frame.value,
            "clutch": self.clutch,
            "speed_scale": self.speed_scale,
            "skill_on": self.skill_on,
            "preset": self.preset.value,
            "episode": self.episode.value,
            "mark": self.mark.value,
            "stamp_ns": self.stamp_ns,
            "seq": self.seq,
        }
