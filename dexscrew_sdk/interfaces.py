"""The device interfaces: Arm, Hand, TactileSensor and the sim-only World.

Public command methods are concrete and validate first (shape, finite values,
joint/speed/workspace limits, emergency-stop latch), then call the protected
`_apply_*` hooks that implementations provide. Safety therefore lives below the
application and no implementation, twin, driver or remote proxy, can forget it.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any

import numpy as np

from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.clock import CONTROL_PERIOD_S
from dexscrew_sdk.errors import CommandRejected, EmergencyStopActive
from dexscrew_sdk.records import (
    ArmState,
    DeviceInfo,
    DeviceMode,
    HandState,
    TactileFrame,
    TaskProgress,
)
from dexscrew_sdk.safety import JointLimits, Workspace, as_vector, check_gains

DEFAULT_MOVE_SPEED_RAD_S = 1.05
DEFAULT_MOVE_TIMEOUT_S = 30.0
# A move slower than this never ends in practice (1e-9 rad/s kept an arm busy until its timeout); faster than
# this is not a speed any UR5e joint has (3.14 rad/s): both are refused as what they are, mistakes or attacks.
MIN_MOVE_SPEED_RAD_S = 1e-3
MAX_MOVE_SPEED_RAD_S = 10.0
MAX_MOVE_TIMEOUT_S = 3600.0


def _number(value: object, what: str, lo: float, hi: float) -> float:
    """A real number (not a bool, not a string) in [lo, hi], or CommandRejected naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CommandRejected(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not (lo <= x <= hi):  # NaN fails too
        raise CommandRejected(f"{what} must be in [{lo:g}, {hi:g}], got {value!r}")
    return x


class Device(ABC):
    """Lifecycle shared by every device: connect/close, context manager, info()."""

    kind: str = "device"

    def __init__(self) -> None:
        self._estopped = False
        self._seq = itertools.count()

    def connect(self) -> None:
        """Open the connection; idempotent. Implementations override."""

    def close(self) -> None:
        """Release the connection; idempotent. Implementations override."""

    @abstractmethod
    def info(self) -> DeviceInfo: ...

    def __enter__(self) -> Device:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _next_seq(self, seq: int | None) -> int:
        return next(self._seq) if seq is None else int(seq)


class _Actuated(Device):
    """Shared machinery of the arm and the hand: limits, e-stop latch, stop."""

    def __init__(self, limits: JointLimits) -> None:
        super().__init__()
        self.limits = limits

    @property
    def emergency_stopped(self) -> bool:
        return self._estopped

    def emergency_stop(self) -> None:
        """Stop now and refuse every command until release_emergency_stop()."""
        self._estopped = True
        self._apply_stop()

    def release_emergency_stop(self) -> None:
        self._estopped = False
        self._apply_release()

    def reported_mode(self, mode: DeviceMode) -> DeviceMode:
        """The mode a state should report: a latched emergency stop overrides the device's own."""
        return DeviceMode.EMERGENCY_STOP if self._estopped else mode

    def stop(self) -> None:
        """Stop streaming/moving and hold the current position."""
        self._apply_stop()

    def check_commandable(self, what: str) -> None:
        """EmergencyStopActive while the stop latch is set (what every command checks first)."""
        self._require_commandable(what)

    def _require_commandable(self, what: str) -> None:
        if self._estopped:
            raise EmergencyStopActive(f"{what} refused: {self.kind} is emergency-stopped")

    @abstractmethod
    def _apply_stop(self) -> None: ...

    def _apply_release(self) -> None:
        """Hardware that needs an unlock step overrides this."""


class Arm(_Actuated):
    """A 6-joint arm (UR5e). Canonical joint order: `joints.ARM_JOINT_NAMES`."""

    kind = "arm"
    dof = joints.ARM_DOF

    def __init__(
        self,
        limits: JointLimits | None = None,
        workspace: Workspace | None = None,
        tcp_offset: np.ndarray | None = None,
        servo_period_s: float = 0.002,
    ) -> None:
        super().__init__(limits or ur5e_limits())
        self.workspace = workspace
        self.tcp_offset = np.zeros(6) if tcp_offset is None else np.asarray(tcp_offset, float)
        self.servo_period_s = servo_period_s  # the streaming period a driver hands its controller

    @abstractmethod
    def state(self) -> ArmState: ...

    def servo(self, q_target_rad: object, *, seq: int | None = None) -> int:
        """Stream one joint target (non-blocking); returns the command's seq."""
        self._require_commandable("servo")
        q = self.check_target(q_target_rad, "servo target")
        seq = self._next_seq(seq)
        self._apply_servo(q, seq)
        return seq

    def move_to(
        self, q_rad: object, *, speed_rad_s: float = DEFAULT_MOVE_SPEED_RAD_S, timeout_s: float = DEFAULT_MOVE_TIMEOUT_S
    ) -> None:
        """Blocking interpolated joint move (homing, resets); MoveTimeoutError if it does not finish."""
        q, speed, timeout = self.check_move(q_rad, speed_rad_s, timeout_s)
        self._require_commandable("move_to")
        self._apply_move(q, speed, timeout)

    def check_move(self, q_rad: object, speed_rad_s: object, timeout_s: object) -> tuple[np.ndarray, float, float]:
        """Every argument of a move, checked before anything moves: the target, and the speed (clamped to
        the arm's slowest joint limit) and timeout each named when out of range."""
        speed = _number(speed_rad_s, "move_to: speed_rad_s", MIN_MOVE_SPEED_RAD_S, MAX_MOVE_SPEED_RAD_S)
        timeout = _number(timeout_s, "move_to: timeout_s", 1e-3, MAX_MOVE_TIMEOUT_S)
        q = self.check_target(q_rad, "move_to target")
        speed = min(speed, float(self.limits.max_speed_rad_s.min()))
        distance_rad = float(np.max(np.abs(q - self.state().q_rad)))
        if distance_rad / speed > timeout:
            raise CommandRejected(
                f"move_to: {distance_rad:.3f} rad at speed_rad_s={speed:g} takes {distance_rad / speed:.1f} s, "
                f"longer than timeout_s={timeout:g}; raise the speed or the timeout"
            )
        return q, speed, timeout

    def check_target(self, q_rad: object, what: str) -> np.ndarray:
        q = self.limits.check_position(q_rad, what)
        if self.workspace is not None:
            self.workspace.check(kinematics.forward(q, self.tcp_offset)[:3], what)
        return q

    @abstractmethod
    def _apply_servo(self, q_rad: np.ndarray, seq: int) -> None: ...

    @abstractmethod
    def _apply_move(self, q_rad: np.ndarray, speed_rad_s: float, timeout_s: float) -> None: ...


class ClockDrivenArm(Arm):
    """A simulated arm whose moves advance with its simulation's clock.

    A node hosting one starts a move with `begin_move` and answers the caller
    once `move_finished()` holds, stepping the simulation itself (lockstep or
    wall time); anything else is moved by its own blocking `move_to`. The
    node tells the two apart with `isinstance`, never by probing for names.
    """

    @abstractmethod
    def begin_move(self, q_rad: np.ndarray, speed_rad_s: float) -> None:
        """Start an interpolated move to an already-checked target (see `check_move`)."""

    @abstractmethod
    def move_finished(self) -> bool: ...


class Hand(_Actuated):
    """A 12-joint hand (XHand). Canonical joint order: `joints.HAND_JOINT_NAMES`."""

    kind = "hand"
    dof = joints.HAND_DOF

    def __init__(self, limits: JointLimits | None = None) -> None:
        super().__init__(limits or xhand_limits())

    @abstractmethod
    def state(self) -> HandState: ...

    def command(
        self,
        q_target_rad: object,
        *,
        kp: object | None = None,
        kd: object | None = None,
        seq: int | None = None,
    ) -> int:
        """Set position targets (optionally per-joint gains); returns the command's seq."""
        self._require_commandable("command")
        q = self.limits.check_position(q_target_rad, "hand target")
        kp_arr = None if kp is None else check_gains(kp, self.dof, "hand kp")
        kd_arr = None if kd is None else check_gains(kd, self.dof, "hand kd")
        seq = self._next_seq(seq)
        self._apply_command(q, kp_arr, kd_arr, seq)
        return seq

    @abstractmethod
    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None: ...


class TactileSensor(Device):
    """Five fingertip pads of 10 x 12 taxels, 3-axis force each, newtons."""

    kind = "tactile"

    @abstractmethod
    def frame(self) -> TactileFrame: ...


class World(Device):
    """Simulation-only ground truth and scenario control (twins)."""

    kind = "world"

    @abstractmethod
    def reset(
        self,
        task: str,
        shape: str,
        seed: int = 0,
        randomisation: dict[str, Any] | None = None,
    ) -> None: ...

    @abstractmethod
    def perturb(self, kind: str) -> None: ...

    @abstractmethod
    def progress(self) -> TaskProgress: ...


class Simulated(ABC):
    """A simulation a node can advance: by wall time (real time) or by ticks (lockstep)."""

    control_period_s: float = CONTROL_PERIOD_S

    @abstractmethod
    def advance(self, dt_s: float) -> None: ...

    @abstractmethod
    def devices(self) -> dict[str, Device]: ...


def ur5e_limits() -> JointLimits:
    return JointLimits(
        joints.ARM_JOINT_NAMES, joints.UR5E_LOWER_RAD, joints.UR5E_UPPER_RAD, joints.UR5E_MAX_SPEED_RAD_S
    )


def xhand_limits() -> JointLimits:
    return JointLimits(
        joints.HAND_JOINT_NAMES,
        joints.XHAND_LOWER_RAD,
        joints.XHAND_UPPER_RAD,
        joints.XHAND_MAX_SPEED_RAD_S,
    )


def new_arm_state(
    seq: int,
    stamp_ns: int,
    q: np.ndarray,
    qd: np.ndarray,
    tcp_offset: np.ndarray,
    mode: DeviceMode,
    cmd_seq: int,
    tcp_force_n: np.ndarray | None = None,
    tcp_pose: np.ndarray | None = None,
) -> ArmState:
    """An ArmState whose TCP pose comes from the shared UR5e kinematics (`tcp_pose`: that pose, already
    computed by the caller for this q and offset)."""
    return ArmState(
        seq=seq,
        stamp_ns=stamp_ns,
        q_rad=q.copy(),
        qd_rad_s=qd.copy(),
        tcp_pose=kinematics.forward(q, tcp_offset) if tcp_pose is None else tcp_pose,
        tcp_force_n=np.zeros(6) if tcp_force_n is None else tcp_force_n,
        mode=mode,
        cmd_seq=cmd_seq,
    )


__all__ = [
    "Arm",
    "ClockDrivenArm",
    "Device",
    "Hand",
    "Simulated",
    "TactileSensor",
    "World",
    "as_vector",
    "new_arm_state",
    "ur5e_limits",
    "xhand_limits",
]
