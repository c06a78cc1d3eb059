"""Command handling shared by simulated hands (the kinematic reference hand, the PyBullet twin's hand).

A simulated hand keeps what a commanded XHand keeps: the position target, the
stiffness, the mode and the last applied command's seq. Subclasses move `q`
toward `target` in their own step (first-order tracking, physics motors) and
say which joint torques a state reports.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.interfaces import Hand
from dexscrew_sdk.records import DeviceInfo, DeviceMode, HandState


class SimulatedHand(Hand):
    """Subclasses place the hand with `hold` before the first state."""

    model = "simulated-xhand"

    def __init__(self, kp_nm_rad: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kp = np.full(joints.HAND_DOF, kp_nm_rad)
        self.mode, self.cmd_seq, self._state_seq = DeviceMode.IDLE, -1, 0

    def hold(self, q_rad: np.ndarray) -> None:
        """Hold wherever the simulation put the hand (start-up, resets); the mode is kept."""
        self.q, self.target = q_rad.copy(), q_rad.copy()

    def info(self) -> DeviceInfo:
        return DeviceInfo.for_joints("hand", self.model, self.limits, rate_hz=100.0)

    def state(self) -> HandState:
        self._state_seq += 1
        mode = self.reported_mode(self.mode)
        return HandState(self._state_seq, time.monotonic_ns(), self.q.copy(), self._torque_nm(), mode, self.cmd_seq)

    @abstractmethod
    def _torque_nm(self) -> np.ndarray:
        """The joint torques a state reports, as a new array (the state must not alias the hand)."""

    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None:
        self.target, self.mode, self.cmd_seq = q_rad, DeviceMode.SERVOING, seq
        if kp is not None:
            self.kp = kp  # kd is kept only by subclasses whose model has a damping term

    def _apply_stop(self) -> None:
        self.target, self.mode = self.q.copy(), DeviceMode.STOPPED  # hold where the hand is now
