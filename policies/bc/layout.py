"""The observation and action layout of a BC policy: what a checkpoint promises a cell.

Joint vectors are [hand (12, `joints.HAND_JOINT_NAMES`), arm (6, `joints.ARM_JOINT_NAMES`)],
radians; touch is the (5, 120, 3) fingertip frame in newtons; actions are joint
position targets in the same 18-joint order, stored relative to the newest observed
joint positions (`action_frame`). Pure Python + numpy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dexscrew_sdk import joints
from dexscrew_sdk.errors import DexscrewError

JOINT_NAMES: tuple[str, ...] = joints.HAND_JOINT_NAMES + joints.ARM_JOINT_NAMES
HAND_SLICE = slice(0, joints.HAND_DOF)
ARM_SLICE = slice(joints.HAND_DOF, joints.HAND_DOF + joints.ARM_DOF)
JOINT_DIM = len(JOINT_NAMES)  # 18
TACTILE_DIM = int(joints.TACTILE_SHAPE[0] * joints.TACTILE_SHAPE[1] * joints.TACTILE_SHAPE[2])  # 1800


# What an action chunk's numbers are: "relative" = joint position targets minus the newest observed joint
# positions (deployment adds them back), "absolute" = the targets themselves (checkpoints before the field).
ACTION_FRAMES: tuple[str, ...] = ("relative", "absolute")


class BCError(DexscrewError, ValueError):
    """A BC dataset, checkpoint or configuration is invalid; the message names what and where."""


class PolicyMismatch(BCError):
    """A checkpoint does not fit the cell it is asked to drive; nothing was moved."""


@dataclass(frozen=True)
class BCLayout:
    """Inputs and outputs of a policy, as stored in its checkpoint."""

    joint_names: tuple[str, ...] = JOINT_NAMES
    tactile_shape: tuple[int, int, int] = joints.TACTILE_SHAPE
    history: int = 5  # K observation steps, oldest first
    horizon: int = 16  # H action steps per chunk, the first one for the newest observation's step
    control_hz: float = 20.0
    use_touch: bool = True
    action_frame: str = "relative"
    units: dict[str, str] = field(
        default_factory=lambda: {"q": "rad", "tactile": "N", "action": "rad (joint position targets)"}
    )

    def __post_init__(self) -> None:
        if self.history < 1:
            raise BCError(f"history K must be >= 1, got {self.history}")
        if self.horizon < 1:
            raise BCError(f"horizon H must be >= 1, got {self.horizon}")
        if not self.control_hz > 0:
            raise BCError(f"control_hz must be positive, got {self.control_hz}")
        if self.action_frame not in ACTION_FRAMES:
            raise BCError(f"action_frame must be one of {list(ACTION_FRAMES)}, got {self.action_frame!r}")

    @property
    def relative_actions(self) -> bool:
        return self.action_frame == "relative"

    @property
    def joint_dim(self) -> int:
        return len(self.joint_names)

    @property
    def tactile_dim(self) -> int:
        s = self.tactile_shape
        return int(s[0] * s[1] * s[2])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["joint_names"] = list(self.joint_names)
        d["tactile_shape"] = list(self.tactile_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BCLayout:
        try:
            return cls(
                joint_names=tuple(str(n) for n in d["joint_names"]),
                tactile_shape=tuple(int(x) for x in d["tactile_shape"]),  # type: ignore[arg-type]
                history=int(d["history"]),
                horizon=int(d["horizon"]),
                control_hz=float(d["control_hz"]),
                use_touch=bool(d["use_touch"]),
                action_frame=str(d.get("action_frame", "absolute")),  # written before the field: absolute
                units=dict(d.get("units", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BCError(f"checkpoint layout is incomplete or malformed: {exc!r}") from None
