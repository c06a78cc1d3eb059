"""The full twin cell: TwinArm, TwinHand, TwinTactile and TwinWorld over one Scene.

TwinCell.advance(dt) accumulates time and steps physics at 200 Hz; once per control period the scene
applies the hand drive and updates the thread. After an advance the scene is read once (a `Readout`)
and every device observes that read-out, so what the node publishes depends only on simulated time
(lockstep runs are bit-identical for a seed). Devices never touch the engine or each other: the arm
hands its setpoint to the cell, the hand writes its command into the scene's HandDrive, the World
acts through the Scene. A non-finite or exploding state is logged, counted and answered by
rebuilding the last scene.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.interfaces import Device, Simulated, TactileSensor
from dexscrew_sdk.records import DeviceInfo, TactileFrame
from dexscrew_sdk.sim_arm import SimulatedArm, SimulationClock
from dexscrew_sdk.sim_hand import SimulatedHand
from twins.bullet import HandDrive
from twins.faults import SensorReadout
from twins.scene import Readout, Scene, TaskParams
from twins.tactile import TaxelModel
from twins.world import TwinWorld

log = logging.getLogger(__name__)


class _CellClock:
    """All the arm sees of the cell: simulated time, and advancing it (an in-process move_to steps the cell)."""

    def __init__(self, cell: TwinCell) -> None:
        self._cell = cell

    @property
    def time_s(self) -> float:
        return self._cell.time_s

    @property
    def control_period_s(self) -> float:
        return self._cell.control_period_s

    def advance(self, dt_s: float) -> None:
        self._cell.advance(dt_s)


class TwinArm(SimulatedArm):
    """Servo targets tracked at the UR5e's joint speed limit; the cell sends the setpoint to the engine."""

    model = "twin-ur5e"

    def __init__(self, clock: SimulationClock, readout: Readout, **kwargs: Any) -> None:
        super().__init__(clock, readout.arm_q_rad, **kwargs)

    def observe(self, r: Readout) -> None:
        self.q, self.qd = r.arm_q_rad, r.arm_qd_rad_s


class TwinHand(SimulatedHand):
    """PD position targets through the scene's HandDrive (same law as the RL world), XHand effort limits.

    The target and gains live in the drive, so a command and what the physics applies cannot differ."""

    model = "twin-xhand"

    def __init__(self, drive: HandDrive, readout: Readout, sensors: SensorReadout, **kwargs: Any) -> None:
        self._drive = drive
        self._sensors = sensors  # what the hand reports and where its loop puts the joints (faults, calibration)
        self._target = readout.hand_q_rad.copy()
        super().__init__(**kwargs)
        self.observe(readout)
        self.hold(self.q)

    @property
    def target(self) -> np.ndarray:  # type: ignore[override]
        return self._target

    @target.setter
    def target(self, q_rad: np.ndarray) -> None:
        self._target = np.asarray(q_rad, dtype=float).copy()
        self._drive.target_rad = self._sensors.drive_target(self._target, self._q_physical)

    @property
    def kp(self) -> np.ndarray:  # type: ignore[override]
        return self._drive.kp_nm_rad

    @kp.setter
    def kp(self, kp_nm_rad: np.ndarray) -> None:
        self._drive.kp_nm_rad = np.asarray(kp_nm_rad, dtype=float).copy()

    @property
    def kd(self) -> np.ndarray:
        return self._drive.kd_nm_s_rad

    def observe(self, r: Readout) -> None:
        self._q_physical = r.hand_q_rad
        self.q, self.qd, self.tau = self._sensors.reported_q(r.hand_q_rad), r.hand_qd_rad_s, r.hand_tau_nm

    def info(self) -> DeviceInfo:
        return DeviceInfo.for_joints("hand", self.model, self.limits, 100.0, self._sensors.info_extra())

    def _torque_nm(self) -> np.ndarray:
        return self.tau.copy()

    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None:
        super()._apply_command(q_rad, kp, kd, seq)
        if kd is not None:
            self._drive.kd_nm_s_rad = np.asarray(kd, dtype=float).copy()


class TwinTactile(TactileSensor):
    def __init__(self, sensors: SensorReadout) -> None:
        super().__init__()
        self._sensors = sensors
        self.force = sensors.tactile(np.zeros(joints.TACTILE_SHAPE), 0.0)  # faulty taxels read from the start
        self._frame_seq = 0

    def observe(self, force_n: np.ndarray) -> None:
        self.force = force_n

    def info(self) -> DeviceInfo:
        extra = {"shape": list(joints.TACTILE_SHAPE), "calibration": self._sensors.info_extra()["calibration"]}
        return DeviceInfo("tactile", "twin-xhand-tactile", rate_hz=100.0, extra=extra)

    def frame(self) -> TactileFrame:
        self._frame_seq += 1
        return TactileFrame(self._frame_seq, time.monotonic_ns(), self.force.copy())


class TwinCell(Simulated):
    """Arm, hand, touch and world over one PyBullet scene, advanced by the node's clock."""

    control_period_s = 0.05
    TACTILE_PERIOD_S = 0.01

    def __init__(
        self,
        params: TaskParams | None = None,
        seed: int = 0,
        sensors: SensorReadout | None = None,
        **device_kwargs: Any,
    ) -> None:
        self.scene = Scene()
        self.sensors = sensors or SensorReadout(seed=seed)  # faults and calibration from the configuration
        self.params = params or TaskParams()
        self.seed = seed
        self.faults = 0
        self._acc = self._since_control = self._since_tactile = 0.0
        self.scene.build(self.params)
        self.taxels = TaxelModel(self.scene.hand, seed)
        r = self.scene.readout
        clock = _CellClock(self)
        self.arm = TwinArm(clock, r, limits=device_kwargs.get("arm_limits"), workspace=device_kwargs.get("workspace"))
        self.hand = TwinHand(self.scene.hand_drive, r, self.sensors, limits=device_kwargs.get("hand_limits"))
        self.tactile = TwinTactile(self.sensors)
        self.world = TwinWorld(self.scene, self.rebuild, self.refresh, self.operator)

    @property
    def time_s(self) -> float:
        return self.scene.time_s

    def rebuild(self, params: TaskParams, seed: int, noise_n: float = 0.01, gain_scale: float = 1.0) -> None:
        self.params, self.seed = params, seed
        self.scene.hand_drive.gain_scale = gain_scale  # before building: the fingers close with the scene's gains
        self.scene.build(params)
        self.taxels = TaxelModel(self.scene.hand, seed, noise_n)
        self._acc = self._since_control = self._since_tactile = 0.0
        self.sensors.reset()
        r = self.scene.readout
        self.arm.hold(r.arm_q_rad, r.arm_qd_rad_s)
        self.hand.observe(r)
        self.hand.hold(self.hand.q)
        self.tactile.observe(self.sensors.tactile(np.zeros(joints.TACTILE_SHAPE), self.scene.time_s))

    def operator(self, action: str) -> None:
        """The operator's hands on the twin (World perturbations; tools never call it): press a pad, un-jig."""
        self.sensors.operator(action, self.scene.time_s)

    def refresh(self) -> None:
        """Re-read the engine after the World moved something, so every device sees it at once."""
        self._observe(self.scene.read())

    def advance(self, dt_s: float) -> None:
        self._acc += dt_s
        dt = self.scene.dt
        stepped = False
        while self._acc >= dt - 1e-12:
            self._acc -= dt
            if self._since_control <= 1e-12:
                self.scene.control_update()
            self.arm.advance_setpoint(dt)
            self.scene.arm_targets(self.arm.setpoint)
            if self.sensors.jig is not None:  # a calibration jig holds the fingers rigidly
                self.scene.set_hand_joints(self.sensors.jig)
            self.scene.step()
            self._since_control = (self._since_control + dt) % self.control_period_s
            if self._since_control > self.control_period_s - 1e-9:
                self._since_control = 0.0
            self._since_tactile += dt
            stepped = True
        if stepped:
            self._observe(self.scene.read())

    def _observe(self, r: Readout) -> None:
        if not r.healthy():
            self.faults += 1
            log.error("twin state exploded (NaN or runaway); rebuilding the scene (fault %d)", self.faults)
            self.rebuild(self.params, self.seed, self.taxels.noise_n, self.scene.hand_drive.gain_scale)
            return
        self.arm.observe(r)
        self.hand.observe(r)
        if self._since_tactile >= self.TACTILE_PERIOD_S - 1e-9:
            self._since_tactile = 0.0
            self.tactile.observe(self.sensors.tactile(self.taxels.frame(self.scene.obj.body), self.scene.time_s))

    def devices(self) -> dict[str, Device]:
        return {"arm": self.arm, "hand": self.hand, "tactile": self.tactile, "world": self.world}

    def close(self) -> None:
        self.scene.close()
