"""An in-process cell for deployment tests: real Arm/Hand interfaces (so the safety layer runs), a
tactile sensor, and a clock whose time only moves on wait() (or when a test moves it)."""

from __future__ import annotations

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.errors import DeviceFault
from dexscrew_sdk.interfaces import Arm, Hand, TactileSensor
from dexscrew_sdk.records import ArmState, DeviceInfo, DeviceMode, HandState, TactileFrame


class FakeArm(Arm):
    def __init__(self) -> None:
        super().__init__()
        self.q = joints.UR5E_HOME_RAD.copy()
        self.sent: list[np.ndarray] = []
        self.stops = 0
        self.mode = DeviceMode.IDLE

    def info(self) -> DeviceInfo:
        return DeviceInfo.for_joints("arm", "fake", self.limits, 500.0)

    def state(self) -> ArmState:
        z = np.zeros(6)
        return ArmState(0, 0, self.q.copy(), z, z, z, self.mode)

    def _apply_servo(self, q_rad: np.ndarray, seq: int) -> None:
        self.sent.append(q_rad)

    def _apply_move(self, q_rad: np.ndarray, speed_rad_s: float, timeout_s: float) -> None:
        self.q = q_rad

    def _apply_stop(self) -> None:
        self.stops += 1


class FakeHand(Hand):
    def __init__(self) -> None:
        super().__init__()
        self.q = 0.5 * (joints.XHAND_LOWER_RAD + joints.XHAND_UPPER_RAD)
        self.sent: list[np.ndarray] = []
        self.stops = 0
        self.fail_after: int | None = None  # raise DeviceFault on this many-th state read

    def info(self) -> DeviceInfo:
        return DeviceInfo.for_joints("hand", "fake", self.limits, 100.0)

    def state(self) -> HandState:
        if self.fail_after is not None:
            self.fail_after -= 1
            if self.fail_after < 0:
                raise DeviceFault("hand: EtherCAT link lost")
        return HandState(0, 0, self.q.copy(), np.zeros(12), DeviceMode.SERVOING)

    def _apply_command(self, q_rad: np.ndarray, kp: object, kd: object, seq: int) -> None:
        self.sent.append(q_rad)

    def _apply_stop(self) -> None:
        self.stops += 1


class FakeTactile(TactileSensor):
    def __init__(self, shape: tuple[int, ...] = joints.TACTILE_SHAPE) -> None:
        super().__init__()
        self.shape = shape

    def info(self) -> DeviceInfo:
        return DeviceInfo("tactile", "fake")

    def frame(self) -> TactileFrame:
        return TactileFrame(0, 0, np.zeros(self.shape, np.float32))


class FakeClock:
    def __init__(self, period_s: float = 0.05) -> None:
        self.period_s, self.time_s = period_s, 0.0
        self.on_wait = None

    def now(self) -> float:
        return self.time_s

    def wait(self) -> None:
        self.time_s += self.period_s
        if self.on_wait is not None:
            self.on_wait()


class FakeCell:
    def __init__(self, period_s: float = 0.05, tactile_shape: tuple[int, ...] = joints.TACTILE_SHAPE) -> None:
        self.arm, self.hand, self.tactile = FakeArm(), FakeHand(), FakeTactile(tactile_shape)
        self.clock = FakeClock(period_s)
        # the devices follow their targets within one period (a stiff, ideal cell)
        self.clock.on_wait = self._follow

    def _follow(self) -> None:
        if self.arm.sent:
            self.arm.q = self.arm.sent[-1].copy()
        if self.hand.sent:
            self.hand.q = self.hand.sent[-1].copy()
