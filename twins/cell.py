"""The full twin cell: TwinArm, TwinHand, TwinTactile and TwinWorld over one Scene.

TwinCell.advance(dt) accumulates time and steps physics at 200 Hz; once per
control period it refreshes the hand motors, the thread friction and the
cached states, so what the node publishes depends only on simulated time
(lockstep runs are bit-identical for a seed). A non-finite or exploding state
is logged, counted and answered by rebuilding the last scene.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.interfaces import Device, Simulated, TactileSensor
from dexscrew_sdk.records import DeviceInfo, TactileFrame
from dexscrew_sdk.sim_arm import SimulatedArm
from dexscrew_sdk.sim_hand import SimulatedHand
from twins.scene import Scene, TaskParams
from twins.tactile import TaxelModel
from twins.world import TwinWorld

log = logging.getLogger(__name__)


class TwinArm(SimulatedArm):
    """Servo targets tracked at the UR5e's joint speed limit by the engine's joint motors."""

    model = "twin-ur5e"

    def __init__(self, cell: TwinCell, **kwargs: Any) -> None:
        self._cell = cell
        super().__init__(cell, cell.scene.arm_states()[0], **kwargs)

    def sync(self) -> None:
        """Hold wherever the scene put the arm (after a reset)."""
        self.hold(*self._cell.scene.arm_states())

    def substep(self, dt: float) -> None:
        self.advance_setpoint(dt)
        self._cell.scene.arm_motors(self.setpoint)


class TwinHand(SimulatedHand):
    """PD position targets through the engine's motors (same law as the RL world), XHand effort limits."""

    model = "twin-xhand"

    def __init__(self, cell: TwinCell, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cell = cell
        self.kd = np.full(joints.HAND_DOF, 0.01)
        self.sync()

    def sync(self) -> None:
        """Hold wherever the scene put the hand (start-up, resets)."""
        q, self.qd, self.tau = self._cell.scene.hand.joint_states()
        self.hold(q)

    def _torque_nm(self) -> np.ndarray:
        return self.tau.copy()

    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None:
        super()._apply_command(q_rad, kp, kd, seq)
        if kd is not None:
            self.kd = kd

    def apply_motors(self) -> None:
        scene = self._cell.scene
        scene.hand.pd_drive(self.target, self.q, self.qd, self.kp, self.kd, scene.dt, self._cell.gain_scale)


class TwinTactile(TactileSensor):
    def __init__(self, cell: TwinCell) -> None:
        super().__init__()
        self._cell = cell
        self.force = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
        self._frame_seq = 0

    def info(self) -> DeviceInfo:
        return DeviceInfo("tactile", "twin-xhand-tactile", rate_hz=100.0, extra={"shape": list(joints.TACTILE_SHAPE)})

    def frame(self) -> TactileFrame:
        self._frame_seq += 1
        return TactileFrame(self._frame_seq, time.monotonic_ns(), self.force.copy())


class TwinCell(Simulated):
    """Arm, hand, touch and world over one PyBullet scene, advanced by the node's clock."""

    control_period_s = 0.05
    TACTILE_PERIOD_S = 0.01

    def __init__(self, params: TaskParams | None = None, seed: int = 0, **device_kwargs: Any) -> None:
        self.scene = Scene()
        self.params = params or TaskParams()
        self.seed = seed
        self.time_s = 0.0
        self.faults = 0
        self.gain_scale = 1.0
        self._acc = 0.0
        self._since_control = 0.0
        self._since_tactile = 0.0
        self.scene.build(self.params)
        self.taxels = TaxelModel(self.scene.hand, seed)
        self.arm = TwinArm(self, limits=device_kwargs.get("arm_limits"), workspace=device_kwargs.get("workspace"))
        self.hand = TwinHand(self, limits=device_kwargs.get("hand_limits"))
        self.tactile = TwinTactile(self)
        self.world = TwinWorld(self)

    def rebuild(self, params: TaskParams, seed: int, noise_n: float = 0.01, gain_scale: float = 1.0) -> None:
        self.params, self.seed, self.gain_scale = params, seed, gain_scale
        self.scene.build(params)
        self.taxels = TaxelModel(self.scene.hand, seed, noise_n)
        self.time_s, self._acc, self._since_control, self._since_tactile = 0.0, 0.0, 0.0, 0.0
        self.arm.sync()
        self.hand.sync()
        self.tactile.force[:] = 0.0
        self.hand.apply_motors()

    def advance(self, dt_s: float) -> None:
        self._acc += dt_s
        dt = self.scene.dt
        stepped = False
        while self._acc >= dt - 1e-12:
            self._acc -= dt
            if self._since_control <= 1e-12:
                self._control_update()
            self.arm.substep(dt)
            self.world.apply_forces()
            self.scene.step()
            self.time_s += dt
            self._since_control = (self._since_control + dt) % self.control_period_s
            if self._since_control > self.control_period_s - 1e-9:
                self._since_control = 0.0
            self._since_tactile += dt
            stepped = True
        if stepped:
            self._read_states()

    def _control_update(self) -> None:
        self.hand.q, self.hand.qd, self.hand.tau = self.scene.hand.joint_states()
        self.hand.apply_motors()
        self.scene.update_task()

    def _read_states(self) -> None:
        q, qd = self.scene.arm_states()
        hq, hqd, htau = self.scene.hand.joint_states()
        if not self.scene.healthy(q, qd, hq, hqd):
            self.faults += 1
            log.error("twin state exploded (NaN or runaway); rebuilding the scene (fault %d)", self.faults)
            self.rebuild(self.params, self.seed, self.taxels.noise_n, self.gain_scale)
            return
        self.arm.q, self.arm.qd = q, qd
        self.hand.q, self.hand.qd, self.hand.tau = hq, hqd, htau
        if self._since_tactile >= self.TACTILE_PERIOD_S - 1e-9:
            self._since_tactile = 0.0
            self.tactile.force = self.taxels.frame(self.scene.obj)

    def devices(self) -> dict[str, Device]:
        return {"arm": self.arm, "hand": self.hand, "tactile": self.tactile, "world": self.world}

    def close(self) -> None:
        self.scene.close()
