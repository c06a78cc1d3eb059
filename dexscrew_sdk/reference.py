"""The kinematic reference cell: the lightest backend of every interface.

A first-order tracking arm and hand (exact exponential response, speed-limited)
and a synthetic tactile sensor whose fingertip pressure grows with finger
flexion. No physics engine: it exists so the bus, nodes, loops and safety can be
tested without PyBullet, and it stays the fastest backend for unit tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.clock import CONTROL_PERIOD_S
from dexscrew_sdk.config import CellLimitParams, cell_limits
from dexscrew_sdk.interfaces import Device, Simulated, TactileSensor
from dexscrew_sdk.node import Hosted, pick_devices
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.records import DeviceInfo, TactileFrame
from dexscrew_sdk.safety import JointLimits
from dexscrew_sdk.sim_arm import SimulatedArm
from dexscrew_sdk.sim_hand import SimulatedHand


def _track(q: np.ndarray, target: np.ndarray, dt_s: float, tau_s: float, max_speed: np.ndarray) -> np.ndarray:
    """One exact first-order step toward target, never faster than max_speed."""
    step = (target - q) * (1.0 - np.exp(-dt_s / tau_s))
    limit = max_speed * dt_s
    return q + np.clip(step, -limit, limit)


class KinematicArm(SimulatedArm):
    """Moves exactly along interpolated moves; lags servo setpoints by a first-order `tau_s`."""

    model = "kinematic-ur5e"

    def __init__(self, cell: KinematicCell, tau_s: float = 0.02, **kwargs: Any) -> None:
        super().__init__(cell, joints.UR5E_HOME_RAD, **kwargs)
        self.tau_s = tau_s

    def step(self, dt_s: float) -> None:
        prev, was_moving = self.q, self.moving
        self.advance_setpoint(dt_s)
        if was_moving:
            self.q = self.setpoint.copy()
        else:
            self.q = _track(self.q, self.setpoint, dt_s, self.tau_s, self.limits.max_speed_rad_s)
        self.qd = (self.q - prev) / dt_s


class KinematicHand(SimulatedHand):
    """Tracks targets with a first-order `tau_s`; reports a `kp` spring's torque toward the target, effort-limited."""

    model = "kinematic-xhand"

    def __init__(self, tau_s: float = 0.05, kp_nm_rad: float = 3.0, **kwargs: Any) -> None:
        super().__init__(kp_nm_rad, **kwargs)
        self.tau_s = tau_s
        self.hold(self.limits.clip(np.zeros(joints.HAND_DOF)))

    def _torque_nm(self) -> np.ndarray:
        return np.clip(self.kp * (self.target - self.q), -joints.XHAND_EFFORT_NM, joints.XHAND_EFFORT_NM)

    def step(self, dt_s: float) -> None:
        self.q = _track(self.q, self.target, dt_s, self.tau_s, self.limits.max_speed_rad_s)


class SyntheticTactile(TactileSensor):
    """Pressure blob on each pad, growing with that finger's flexion beyond a contact angle."""

    CONTACT_FLEX_RAD = 1.0
    N_PER_RAD = 2.0
    SATURATION_N = 10.0
    _FINGER_JOINTS = ((0, 2), (4, 5), (6, 7), (8, 9), (10, 11))  # flexion joints per fingertip

    def __init__(self, hand: KinematicHand, seed: int = 0, noise_n: float = 0.01) -> None:
        super().__init__()
        self._hand = hand
        self._rng = np.random.default_rng(seed)
        self.noise_n = noise_n
        rows, cols = joints.TAXEL_GRID
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        blob = np.exp(-(((r - rows / 2) / 2.0) ** 2 + ((c - cols / 2) / 2.5) ** 2))
        self._blob = (blob / blob.sum()).reshape(-1).astype(np.float32)
        self._seq = 0
        self._force = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
        self.sample()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            "tactile",
            "synthetic-xhand-tactile",
            rate_hz=100.0,
            extra={"shape": list(joints.TACTILE_SHAPE), "threshold_n": joints.TACTILE_THRESHOLD_N},
        )

    def frame(self) -> TactileFrame:
        """The latest sample; reading never consumes randomness, so lockstep runs stay deterministic."""
        self._seq += 1
        return TactileFrame(self._seq, time.monotonic_ns(), self._force.copy())

    def sample(self) -> None:
        """Take a new reading from the hand's pose (called by the cell as it advances)."""
        q = self._hand.q
        force = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
        for tip, idx in enumerate(self._FINGER_JOINTS):
            total_n = self.N_PER_RAD * max(0.0, float(q[list(idx)].sum()) - self.CONTACT_FLEX_RAD)
            force[tip, :, 2] = total_n * self._blob
        force += self._rng.normal(0.0, self.noise_n, force.shape).astype(np.float32)
        force[np.abs(force) < joints.TACTILE_THRESHOLD_N] = 0.0
        np.clip(force, -self.SATURATION_N, self.SATURATION_N, out=force)
        self._force = force


class KinematicCell(Simulated):
    """Arm, hand and tactile sensor advanced together by one clock."""

    control_period_s = CONTROL_PERIOD_S
    TACTILE_PERIOD_S = 0.01  # 100 Hz, the XHand's practical state rate

    def __init__(
        self,
        seed: int = 0,
        arm_limits: JointLimits | None = None,
        hand_limits: JointLimits | None = None,
        **arm_kwargs: Any,
    ) -> None:
        self.time_s = 0.0
        self.arm = KinematicArm(self, limits=arm_limits, **arm_kwargs)
        self.hand = KinematicHand(limits=hand_limits)
        self.tactile = SyntheticTactile(self.hand, seed=seed)
        self._last_tactile_s = 0.0

    def advance(self, dt_s: float) -> None:
        # Integrate in <= 2 ms steps so moves and tracking look the same at any call rate.
        n = max(1, int(np.ceil(dt_s / 0.002)))
        h = dt_s / n
        for _ in range(n):
            self.time_s += h
            self.arm.step(h)
            self.hand.step(h)
        # The pads are read at their own rate, on simulated time (deterministic in lockstep, and
        # a real-time node stepping at 1 kHz does not spend its loop drawing noise).
        if self.time_s - self._last_tactile_s >= self.TACTILE_PERIOD_S - 1e-9:
            self._last_tactile_s = self.time_s
            self.tactile.sample()

    def devices(self) -> dict[str, Device]:
        return {"arm": self.arm, "hand": self.hand, "tactile": self.tactile}


@dataclass
class ReferenceParams(CellLimitParams):
    """`[nodes.N.params]` of `factory = "reference"`."""

    seed: int = 0


def make_reference_cell(params: ReferenceParams, ctx: NodeContext) -> Hosted:
    """Device factory for nodes: `factory = "reference"` in a cell configuration."""
    cell = KinematicCell(seed=params.seed, **cell_limits(params))
    return Hosted(pick_devices(cell.devices(), ctx.devices, "reference cell"), sim=cell)
