"""Command handling shared by simulated arms (the kinematic reference arm, the PyBullet twin's arm).

A simulated arm turns commands into a joint `setpoint` that moves with simulated
time: servo targets go through the same `ServoInterpolator` as the UR5e driver's
500 Hz stream (each reached one application period after it arrives, speed and
acceleration bounded), so twin and real arms follow one trajectory; `move_to`
interpolates linearly at the requested speed. Subclasses turn the setpoint into motion (a
first-order lag, physics motors) in their own step and keep `q`/`qd` current.
It is a `ClockDrivenArm`: the node drives moves through `begin_move`/`move_finished`
so they progress with its clock (wall or lockstep); in-process `move_to` advances
the simulation itself. Either way a move that does not finish raises
`MoveTimeoutError` and leaves the arm stopped where it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.errors import MoveTimeoutError
from dexscrew_sdk.interfaces import ClockDrivenArm, new_arm_state
from dexscrew_sdk.records import ArmState, DeviceInfo, DeviceMode
from dexscrew_sdk.servo_interpolation import ServoInterpolator


class SimulationClock(Protocol):
    time_s: float
    control_period_s: float

    def advance(self, dt_s: float) -> None: ...


@dataclass(frozen=True)
class LinearMove:
    start: np.ndarray
    goal: np.ndarray
    t0_s: float
    duration_s: float

    @classmethod
    def plan(cls, q_from: np.ndarray, q_to: np.ndarray, speed_rad_s: float, now_s: float) -> LinearMove:
        duration = float(np.max(np.abs(q_to - q_from)) / speed_rad_s)
        return cls(q_from.copy(), q_to.copy(), now_s, max(duration, 1e-6))

    def at(self, t_s: float) -> tuple[np.ndarray, bool]:
        """Setpoint at time t_s, and whether the move is complete."""
        s = min(1.0, (t_s - self.t0_s) / self.duration_s)
        return self.start + (self.goal - self.start) * s, s >= 1.0


class SimulatedArm(ClockDrivenArm):
    model = "simulated-ur5e"

    def __init__(self, sim: SimulationClock, q0_rad: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sim = sim
        self.cmd_seq, self._state_seq = -1, 0
        self._fk_key: tuple[str, bytes, str, bytes] | None = None
        self._fk_pose = np.zeros(6)
        self.hold(q0_rad, np.zeros(joints.ARM_DOF))

    def hold(self, q_rad: np.ndarray, qd_rad_s: np.ndarray) -> None:
        """Hold wherever the simulation put the arm (start-up, resets)."""
        self.q, self.qd = q_rad.copy(), qd_rad_s.copy()
        self.setpoint, self.target = q_rad.copy(), q_rad.copy()
        self.mode = DeviceMode.IDLE
        self._move: LinearMove | None = None
        self._servo = ServoInterpolator(q_rad, self.limits.max_speed_rad_s, app_period_s=self._sim.control_period_s)

    def info(self) -> DeviceInfo:
        return DeviceInfo.for_joints("arm", self.model, self.limits, rate_hz=500.0)

    def state(self) -> ArmState:
        self._state_seq += 1
        return new_arm_state(
            self._state_seq, time.monotonic_ns(), self.q, self.qd, self.tcp_offset, self.reported_mode(self.mode),
            self.cmd_seq, tcp_pose=self._tcp_pose(),
        )  # fmt: skip

    def _tcp_pose(self) -> np.ndarray:
        """forward(q, tcp_offset), computed once per configuration: a lockstep step publishes the arm after
        its servo command with the q the tick already published. Keyed on the exact bytes of both inputs
        (and their dtypes), so a changed q or offset is always recomputed."""
        key = (self.q.dtype.str, self.q.tobytes(), self.tcp_offset.dtype.str, self.tcp_offset.tobytes())
        if key != self._fk_key:
            self._fk_key, self._fk_pose = key, kinematics.forward(self.q, self.tcp_offset)
        return self._fk_pose.copy()

    @property
    def moving(self) -> bool:
        return self._move is not None

    def _apply_servo(self, q_rad: np.ndarray, seq: int) -> None:
        if self._move is not None or self.mode != DeviceMode.SERVOING:
            self._servo.reset(self.setpoint)  # a stream starts from where the arm was told to be, at rest
        self._move = None
        self._servo.push(q_rad, self._sim.time_s)
        self.target, self.mode, self.cmd_seq = q_rad, DeviceMode.SERVOING, seq

    def begin_move(self, q_rad: np.ndarray, speed_rad_s: float) -> None:
        self._move = LinearMove.plan(self.setpoint, q_rad, speed_rad_s, self._sim.time_s)
        self.mode = DeviceMode.MOVING

    def move_finished(self) -> bool:
        return self._move is None and self.mode != DeviceMode.MOVING

    def _apply_move(self, q_rad: np.ndarray, speed_rad_s: float, timeout_s: float) -> None:
        self.begin_move(q_rad, speed_rad_s)
        end = self._sim.time_s + timeout_s
        while not self.move_finished():
            if self._sim.time_s > end:
                self.stop()
                raise MoveTimeoutError(f"move_to did not finish within {timeout_s} s of simulated time; arm stopped")
            self._sim.advance(self._sim.control_period_s)

    def _apply_stop(self) -> None:
        self._move = None
        self.setpoint, self.target = self.q.copy(), self.q.copy()  # hold where the arm is now
        self._servo.reset(self.q)
        self.mode = DeviceMode.STOPPED

    def advance_setpoint(self, dt_s: float) -> None:
        """Move the setpoint by one simulation step: along the move, or along the interpolated servo stream."""
        if self._move is not None:
            self.setpoint, done = self._move.at(self._sim.time_s)
            if done:
                self._move, self.target, self.mode = None, self._move.goal.copy(), DeviceMode.IDLE
        elif self.mode == DeviceMode.SERVOING:
            self.setpoint = self._servo.next(dt_s)
