"""Typed state and command records shared by every device, twin and driver.

Units are in the field names. Every sample carries the producer's monotonic
stamp (`time.monotonic_ns()`, comparable across processes on one host) and a
per-stream sequence number.

State arrays are read-only, in process and over the bus alike: a record read
from a node views the received bytes without copying, and an in-process device
hands out fresh copies that are frozen the same way, so code that works on one
works on the other (`state.q_rad.copy()` to get an array to modify). A record
takes ownership of the arrays it is built from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class DeviceMode(enum.IntEnum):
    """Operating mode reported in every arm and hand state."""

    IDLE = 0  # connected, holding position, no command stream
    SERVOING = 1  # following streamed targets
    MOVING = 2  # executing a blocking interpolated move
    STOPPED = 3  # stopped by stop() or by the watchdog; holds position
    PROTECTIVE_STOP = 4
    EMERGENCY_STOP = 5
    FAULT = 6


@dataclass(slots=True)
class ArmState:
    seq: int
    stamp_ns: int
    q_rad: np.ndarray  # (6,) canonical order
    qd_rad_s: np.ndarray  # (6,)
    tcp_pose: np.ndarray  # (6,) x, y, z [m], rotation vector rx, ry, rz [rad], base frame
    tcp_force_n: np.ndarray  # (6,) fx, fy, fz [N], tx, ty, tz [N m]
    mode: DeviceMode
    cmd_seq: int = -1  # seq of the last command the device accepted, -1 if none (see SENDER_SHIFT)

    def __post_init__(self) -> None:
        for a in (self.q_rad, self.qd_rad_s, self.tcp_pose, self.tcp_force_n):
            if type(a) is np.ndarray and a.flags.writeable:  # cheap when decoded (see TactileFrame)
                a.setflags(False)  # write=False, positional: a third of the keyword call

    @property
    def protective_stop(self) -> bool:
        return self.mode == DeviceMode.PROTECTIVE_STOP

    @property
    def emergency_stop(self) -> bool:
        return self.mode == DeviceMode.EMERGENCY_STOP


@dataclass(slots=True)
class HandState:
    seq: int
    stamp_ns: int
    q_rad: np.ndarray  # (12,) canonical order
    torque_nm: np.ndarray  # (12,)
    mode: DeviceMode
    cmd_seq: int = -1

    def __post_init__(self) -> None:
        for a in (self.q_rad, self.torque_nm):
            if type(a) is np.ndarray and a.flags.writeable:  # cheap when decoded (see TactileFrame)
                a.setflags(False)  # write=False, positional: a third of the keyword call


@dataclass(slots=True)
class TactileFrame:
    seq: int
    stamp_ns: int
    force_n: np.ndarray  # (5, 120, 3) float32: fingertip x taxel x (fx, fy, fz)

    def __post_init__(self) -> None:
        # Every state on the bus is built here, so it must be cheap. Arrays decoded from a message
        # view immutable bytes and are read-only already: only a read of the flag is paid for them; a fresh
        # array pays setflags(False), 0.1 us against 0.9 us for assigning flags.writeable. Written out in
        # each record, not called, since a call costs as much as the check.
        a = self.force_n
        if type(a) is np.ndarray and a.flags.writeable:
            a.setflags(False)  # write=False, positional: a third of the keyword call


@dataclass(slots=True)
class TaskProgress:
    """Ground truth a simulated world reports (twins only)."""

    turns_done: float
    turns_required: float
    fastened: bool
    time_s: float
    task: str = ""
    shape: str = ""
    stalled: bool = False  # the object stopped advancing although the fingers turn (full twin)
    unseated: bool = False  # the tool lost its seat (screwdriver lifted or tilted out of the slot)
    seat_torque_nm: float = 0.0  # torque the seat transmits to the screw or nut
    # where the object is: x, y, z [m] and rotation vector [rad] in the arm's base frame; () = not reported
    object_pose: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        self.object_pose = tuple(float(v) for v in self.object_pose)  # a list after the bus

    @property
    def ratio(self) -> float:
        return 0.0 if self.turns_required <= 0 else min(1.0, self.turns_done / self.turns_required)


@dataclass(slots=True)
class DeviceInfo:
    """What a device is and the limits it enforces."""

    kind: str  # "arm" | "hand" | "tactile" | "world"
    model: str
    joint_names: tuple[str, ...] = ()
    lower_rad: tuple[float, ...] = ()
    upper_rad: tuple[float, ...] = ()
    max_speed_rad_s: tuple[float, ...] = ()
    rate_hz: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_joints(
        cls, kind: str, model: str, limits: Any, rate_hz: float, extra: dict[str, Any] | None = None
    ) -> DeviceInfo:
        """Info of an actuated device from the `JointLimits` it enforces."""
        return cls(
            kind,
            model,
            tuple(limits.names),
            tuple(float(x) for x in limits.lower_rad),
            tuple(float(x) for x in limits.upper_rad),
            tuple(float(x) for x in limits.max_speed_rad_s),
            rate_hz,
            extra or {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "joint_names": list(self.joint_names),
            "lower_rad": list(self.lower_rad),
            "upper_rad": list(self.upper_rad),
            "max_speed_rad_s": list(self.max_speed_rad_s),
            "rate_hz": self.rate_hz,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceInfo:
        return cls(
            kind=str(d["kind"]),
            model=str(d["model"]),
            joint_names=tuple(d.get("joint_names", ())),
            lower_rad=tuple(float(x) for x in d.get("lower_rad", ())),
            upper_rad=tuple(float(x) for x in d.get("upper_rad", ())),
            max_speed_rad_s=tuple(float(x) for x in d.get("max_speed_rad_s", ())),
            rate_hz=float(d.get("rate_hz", 0.0)),
            extra=dict(d.get("extra", {})),
        )


# ---------------------------------------------------------------- command sequence numbers
# A command's seq names its sender and its place in that sender's stream: seq = sender * 2**32 + n.
# Each remote proxy draws a random sender id (in-process callers are sender 0), so a new client's
# commands can never be mistaken for an earlier client's (both count n from 1). `cmd_seq` in a state
# is the seq of the command the device has ACCEPTED: its target from then on (physics acts on it
# from the next simulation step), -1 before the first command.
SENDER_SHIFT = 32
SENDER_MASK = (1 << 31) - 1


def new_sender_id() -> int:
    """A random non-zero sender id (31 bits): one per proxy."""
    import secrets

    return 1 + secrets.randbelow(SENDER_MASK)


def sender_of(seq: int) -> int:
    return seq >> SENDER_SHIFT


def applied(cmd_seq: int, seq: int) -> bool:
    """Whether a state's `cmd_seq` shows command `seq`, or a later one of the same sender, accepted."""
    return cmd_seq >= seq and cmd_seq >> SENDER_SHIFT == seq >> SENDER_SHIFT
