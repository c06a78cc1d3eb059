"""UR5e `Arm` over ur_rtde: servoJ streaming, moveJ homing, safety state, reconnection.

Limits and NaN checks happen in `Arm.servo()/move_to()` before any `_apply_*`
hook runs, so nothing invalid reaches ur_rtde. Liveness does not rely on
ur_rtde noticing a dead controller: every command and state read checks that
the controller's RTDE timestamp advanced within `stale_after_s`, and raises
`DeviceTimeoutError` otherwise (a killed controller is also reported by ur_rtde
itself, within milliseconds, as an exception that is mapped to the same error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from dexscrew_sdk.config import arm_limits
from dexscrew_sdk.errors import (
    ConfigError,
    DeviceFault,
    DeviceNotConnected,
    DeviceTimeoutError,
    HardwareEmergencyStopError,
    ProtectiveStopError,
)
from dexscrew_sdk.interfaces import Arm
from dexscrew_sdk.node import Hosted
from dexscrew_sdk.params import JointLimitParams, NodeContext, WorkspaceParams
from dexscrew_sdk.records import ArmState, DeviceInfo, DeviceMode
from dexscrew_sdk.safety import JointLimits, Workspace, as_vector
from dexscrew_sdk.servo_interpolation import DEFAULT_MAX_ACCEL_RAD_S2, ServoInterpolator
from drivers.ur5e_servo import ServoStream

ROBOT_MODE_RUNNING = 7
STOP_CALL_TIMEOUT_S = 1.0
_PARKED: list[Any] = []  # ur_rtde interfaces of lost sessions, destroyed later (see UR5eArm._drop)
SAFETY_MODE_NAMES = {
    1: "NORMAL",
    2: "REDUCED",
    3: "PROTECTIVE_STOP",
    4: "RECOVERY",
    5: "SAFEGUARD_STOP",
    6: "SYSTEM_EMERGENCY_STOP",
    7: "ROBOT_EMERGENCY_STOP",
    8: "VIOLATION",
    9: "FAULT",
}
INSTALL_HINT = "the UR5e driver needs ur_rtde: pip install 'dexscrew-sdk[hardware]' (or pip install ur-rtde)"


@dataclass
class UR5eConfig:
    host: str = "192.168.1.102"
    frequency_hz: float = 500.0  # RTDE and servo rate (<= 500 on e-Series)
    lookahead_s: float = 0.1  # servoJ lookahead, 0.03 .. 0.2
    gain: float = 300.0  # servoJ gain, 100 .. 2000
    move_acceleration: float = 1.4  # moveJ, rad/s^2
    stop_deceleration: float = 2.0  # stopJ/servoStop, rad/s^2
    tcp: list[float] = field(default_factory=lambda: [0.0] * 6)  # x y z [m], rotation vector [rad]
    payload_kg: float = 0.0
    payload_cog_m: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    stale_after_s: float = 0.2  # controller silence that counts as a lost connection
    connect_timeout_s: float = 10.0  # keep retrying a refused connection this long (controller booting)
    servo_max_accel_rad_s2: float = DEFAULT_MAX_ACCEL_RAD_S2  # of the interpolated servoJ stream, per joint

    def __post_init__(self) -> None:
        try:
            self.tcp = as_vector(self.tcp, 6, "ur5e tcp").tolist()
            self.payload_cog_m = as_vector(self.payload_cog_m, 3, "ur5e payload_cog_m").tolist()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        checks = (
            (0 < self.frequency_hz <= 500, f"frequency_hz must be in (0, 500], got {self.frequency_hz}"),
            (0.03 <= self.lookahead_s <= 0.2, f"lookahead_s must be in [0.03, 0.2], got {self.lookahead_s}"),
            (100 <= self.gain <= 2000, f"gain must be in [100, 2000], got {self.gain}"),
            (0 <= self.payload_kg <= 5.0, f"payload_kg must be in [0, 5] (UR5e rating), got {self.payload_kg}"),
            (self.move_acceleration > 0 and self.stop_deceleration > 0, "accelerations must be positive"),
            (self.stale_after_s > 0, "stale_after_s must be positive"),
            (self.connect_timeout_s >= 0, "connect_timeout_s must be >= 0"),
            (self.servo_max_accel_rad_s2 > 0, "servo_max_accel_rad_s2 must be positive"),
        )
        for ok, why in checks:
            if not ok:
                raise ConfigError(f"ur5e: {why}")


@dataclass
class UR5eNodeParams(UR5eConfig):
    """`[nodes.N.params]` of `factory = "ur5e"`: the driver's settings and the limits every arm factory takes."""

    arm_limits: JointLimitParams | None = None
    workspace: WorkspaceParams | None = None


def _ur_rtde_classes() -> tuple[Callable[..., Any], Callable[..., Any]]:
    try:
        import rtde_control
        import rtde_receive
    except ImportError as exc:
        raise DeviceNotConnected(f"{INSTALL_HINT} ({exc})") from None
    return rtde_control.RTDEControlInterface, rtde_receive.RTDEReceiveInterface


class UR5eArm(Arm):
    def __init__(
        self,
        config: UR5eConfig,
        limits: JointLimits | None = None,
        workspace: Workspace | None = None,
        interfaces: tuple[Callable[..., Any], Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(limits, workspace, np.asarray(config.tcp), 1.0 / config.frequency_hz)
        self.config = config
        self._interfaces = interfaces
        self._control: Any = None
        self._receive: Any = None
        self._mode = DeviceMode.IDLE
        self._cmd_seq = -1
        self._state_seq = 0
        self._last_stamp = -1.0
        self._last_change = 0.0
        self._configured = False  # TCP and payload sent in this session
        self._stream: ServoStream | None = None  # the 500 Hz servo thread while servoing

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        if self._control is not None:
            return
        control_cls, receive_cls = self._interfaces or _ur_rtde_classes()
        host, freq = self.config.host, self.config.frequency_hz
        deadline = time.monotonic() + self.config.connect_timeout_s
        while True:
            try:
                self._receive = receive_cls(host, freq)
                self._control = control_cls(host, freq)
                _PARKED.clear()  # failed attempts' leftovers; connecting is not time-critical
                break
            except RuntimeError as exc:
                self._drop(dispose=False)
                if time.monotonic() > deadline:
                    raise DeviceNotConnected(
                        f"UR5e at {host}: cannot connect ({exc}); check the network, that the robot is powered on, "
                        "brakes released and in remote control mode"
                    ) from None
                time.sleep(0.2)  # retry pacing while the controller comes up
        self._last_stamp, self._last_change = -1.0, time.monotonic()
        self._configured = False
        try:
            self._raise_for_safety("connect")
        except (ProtectiveStopError, HardwareEmergencyStopError):
            pass  # a stopped robot refuses setTcp: configure once it is released (the node must come up for that)
        else:
            try:
                self._configure()
            except BaseException:
                self._drop()  # never leave a session that looks connected but was not configured
                raise
        self._mode = DeviceMode.IDLE

    def _ensure_configured(self) -> None:
        if not self._configured:  # connected while stopped, released since (pendant or SDK)
            self._configure()

    def _configure(self) -> None:
        """TCP and payload: the controller's collision detection depends on them, so no motion goes before."""
        self._call("setTcp", list(self.config.tcp))
        self._call("setPayload", self.config.payload_kg, list(self.config.payload_cog_m))
        self._configured = True

    def close(self) -> None:
        self._stop_stream()
        if self._control is not None:
            _bounded(self._control.stopScript, STOP_CALL_TIMEOUT_S)
        self._drop()

    def reconnect(self) -> None:
        """Drop whatever is left of the old session and open a new one."""
        self._drop()
        self.connect()

    def _drop(self, dispose: bool = True) -> None:
        """Forget the session. ur_rtde's destructors hold the GIL for ~0.5 s each, stalling every thread of
        the process, so on the time-critical lost-connection path they are parked until reconnect() or close()."""
        self._stop_stream(join_s=0.0)  # a servoJ stuck on a dead controller must not hold this path up
        _PARKED.extend(i for i in (self._control, self._receive) if i is not None)
        self._control = self._receive = None
        if dispose:
            _PARKED.clear()  # the destructors disconnect

    def info(self) -> DeviceInfo:
        c = self.config
        extra = {"host": c.host, "lookahead_s": c.lookahead_s, "gain": c.gain, "tcp": list(c.tcp)}
        return DeviceInfo.for_joints("arm", "ur5e", self.limits, c.frequency_hz, extra)

    # ------------------------------------------------------------------ state
    def state(self) -> ArmState:
        receive = self._live_receive()
        q = np.asarray(receive.getActualQ(), dtype=float)
        qd = np.asarray(receive.getActualQd(), dtype=float)
        self._state_seq += 1
        return ArmState(
            seq=self._state_seq,
            stamp_ns=time.monotonic_ns(),
            q_rad=q,
            qd_rad_s=qd,
            tcp_pose=np.asarray(receive.getActualTCPPose(), dtype=float),
            tcp_force_n=np.asarray(receive.getActualTCPForce(), dtype=float),
            mode=self._current_mode(receive),
            cmd_seq=self._cmd_seq,
        )

    def _current_mode(self, receive: Any) -> DeviceMode:
        if self.emergency_stopped or receive.isEmergencyStopped():
            return DeviceMode.EMERGENCY_STOP
        if receive.isProtectiveStopped():
            return DeviceMode.PROTECTIVE_STOP
        if receive.getRobotMode() != ROBOT_MODE_RUNNING:
            return DeviceMode.FAULT
        return self._mode

    def _live_receive(self) -> Any:
        """The receive interface, after checking the controller is still streaming."""
        if self._receive is None:
            raise DeviceNotConnected("UR5e: not connected; call connect() (or reconnect() after a lost connection)")
        now = time.monotonic()
        try:
            stamp = float(self._receive.getTimestamp())
            connected = self._receive.isConnected()
        except RuntimeError as exc:
            self._lost(f"receive failed ({exc})")
        if stamp != self._last_stamp:
            self._last_stamp, self._last_change = stamp, now
        elif not connected or now - self._last_change > self.config.stale_after_s:
            self._lost(f"no RTDE data for {now - self._last_change:.3f} s")
        return self._receive

    def _lost(self, why: str) -> NoReturn:
        self._drop(dispose=False)
        self._mode = DeviceMode.FAULT
        raise DeviceTimeoutError(
            f"UR5e at {self.config.host}: controller connection lost: {why}; call reconnect() once it is back"
        )

    def _raise_for_safety(self, what: str) -> None:
        receive = self._live_receive()
        if receive.isEmergencyStopped():
            raise HardwareEmergencyStopError(f"{what}: the UR5e emergency stop is pressed; release it on the pendant")
        if receive.isProtectiveStopped():
            raise ProtectiveStopError(
                f"{what}: the UR5e is in protective stop "
                f"(safety mode {SAFETY_MODE_NAMES.get(receive.getSafetyMode())});"
                " inspect the cause, then call unlock_protective_stop() or release_emergency_stop()"
            )

    def _call(self, name: str, *args: Any) -> Any:
        """One ur_rtde control call; False and exceptions become specific errors."""
        self._raise_for_safety(name)
        control = self._control
        if control is None:
            raise DeviceNotConnected("UR5e: not connected")
        try:
            ok = getattr(control, name)(*args)
        except RuntimeError as exc:
            self._lost(f"{name} failed ({exc})")
        if ok is False:
            self._raise_for_safety(name)
            if not control.isProgramRunning():
                raise DeviceFault(f"UR5e: {name} refused: the control script is not running; call reconnect()")
            raise DeviceFault(f"UR5e: {name} was refused by the controller")
        return ok

    # ------------------------------------------------------------------ commands
    def _apply_servo(self, q_rad: np.ndarray, seq: int) -> None:
        """Hand the target to the servo thread, which interpolates it into the 500 Hz servoJ stream (it is
        reached one application period later: the latency this adds)."""
        self._ensure_configured()
        self._raise_for_safety("servoJ")
        stream = self._stream
        if stream is not None and not stream.running:
            self._stream = None
            if stream.error is not None:
                self._lost(f"servoJ failed ({stream.error})")
            if stream.refused and self._control is not None and not self._control.isProgramRunning():
                raise DeviceFault("UR5e: servoJ refused: the control script is not running; call reconnect()")
            stream = None
        if stream is None:
            q0 = np.asarray(self._live_receive().getActualQ(), dtype=float)
            interp = ServoInterpolator(q0, self.limits.max_speed_rad_s, self.config.servo_max_accel_rad_s2)
            stream = self._stream = ServoStream(self._send_servo, self.servo_period_s, interp)
        stream.push(q_rad)
        self._mode = DeviceMode.SERVOING
        self._cmd_seq = seq

    def _send_servo(self, q: list[float]) -> object:
        control, c = self._control, self.config
        if control is None:
            return False
        if not control.isConnected():
            # ur_rtde's own receive thread found the connection gone and is reconnecting; a servoJ now would
            # start a second reconnect in this thread, racing the first inside ur_rtde (a crash, not an error).
            raise RuntimeError("the RTDE connection closed")
        # servoJ(q, speed, acceleration, time, lookahead_time, gain): positional only.
        return control.servoJ(q, 0.5, 0.5, self.servo_period_s, c.lookahead_s, c.gain)

    def _stop_stream(self, join_s: float = 1.0) -> None:
        """End the servo thread; once joined, no servoJ follows (a stop or move may be sent next)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop(join_s)

    def _apply_move(self, q_rad: np.ndarray, speed_rad_s: float, timeout_s: float) -> None:
        self._ensure_configured()
        self._stop_stream()
        if self._mode == DeviceMode.SERVOING:
            self._call("servoStop", self.config.stop_deceleration)
        self._mode = DeviceMode.MOVING
        try:
            self._call("moveJ", q_rad.tolist(), speed_rad_s, self.config.move_acceleration, False)
        finally:
            self._mode = DeviceMode.IDLE if self._control is not None else DeviceMode.FAULT
        reached = np.asarray(self._live_receive().getActualQ())
        if float(np.max(np.abs(reached - q_rad))) > 0.01:
            raise DeviceFault(f"UR5e: moveJ ended at {np.round(reached, 4).tolist()}, not at the target")

    def _apply_stop(self) -> None:
        self._stop_stream()
        if self._control is None:
            self._mode = DeviceMode.STOPPED
            return
        control, decel = self._control, self.config.stop_deceleration
        if self._mode == DeviceMode.SERVOING:
            finished = _bounded(lambda: control.servoStop(decel), STOP_CALL_TIMEOUT_S)
        else:
            finished = _bounded(lambda: control.stopJ(decel, False), STOP_CALL_TIMEOUT_S)
        self._mode = DeviceMode.STOPPED
        if not finished:
            self._lost(f"stop did not return within {STOP_CALL_TIMEOUT_S} s")

    def _apply_release(self) -> None:
        """Releasing the SDK's stop latch also recovers the robot: unlocks a protective stop (after the operator
        checked its cause) and restarts the control script that a stop ended."""
        receive = self._live_receive()
        if receive.isEmergencyStopped():
            raise HardwareEmergencyStopError("UR5e: release the emergency stop button on the robot first")
        if receive.isProtectiveStopped():
            self.unlock_protective_stop()
        else:
            self._restart_script(time.monotonic() + 5.0)

    def unlock_protective_stop(self, timeout_s: float = 5.0) -> None:
        """Dashboard `unlock protective stop`, then restart the control script."""
        from dashboard_client import DashboardClient

        dashboard = DashboardClient(self.config.host)
        try:
            dashboard.connect()
            dashboard.unlockProtectiveStop()
            dashboard.closeSafetyPopup()
        except RuntimeError as exc:
            raise DeviceFault(f"UR5e: unlock protective stop failed ({exc})") from None
        finally:
            dashboard.disconnect()
        deadline = time.monotonic() + timeout_s
        while self._live_receive().isProtectiveStopped():
            if time.monotonic() > deadline:
                raise ProtectiveStopError("UR5e: protective stop not released (UR allows it 5 s after the stop)")
            time.sleep(0.01)  # polling the controller's state at its own rate
        self._restart_script(deadline)

    def _restart_script(self, deadline: float) -> None:
        control = self._control
        if control is not None and not control.isProgramRunning():
            control.reuploadScript()
            while not control.isProgramRunning():
                if time.monotonic() > deadline:
                    raise DeviceFault("UR5e: the control script did not restart")
                time.sleep(0.01)  # polling the controller's state at its own rate
        self._ensure_configured()
        self._mode = DeviceMode.IDLE


def _bounded(call: Callable[[], Any], timeout_s: float) -> bool:
    """Run a ur_rtde call that may block (it retries a dead controller); False when it did not return in time."""

    def run() -> None:
        with contextlib.suppress(RuntimeError):  # a dead controller is not moving the arm either
            call()

    worker = threading.Thread(target=run, daemon=True, name="ur5e-stop")
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()


def make_ur5e_node(params: UR5eNodeParams, ctx: NodeContext) -> Hosted:
    """Device factory for `factory = "ur5e"`: serves the arm of a real (or emulated) UR5e."""
    if list(ctx.devices) != ["arm"]:
        raise ConfigError(f"a ur5e node serves exactly ['arm'], not {list(ctx.devices)}")
    if ctx.lockstep:
        raise ConfigError("a ur5e node runs in real time; set cell.lockstep = false")
    config = UR5eConfig(**{f.name: getattr(params, f.name) for f in dataclasses.fields(UR5eConfig)})
    arm = UR5eArm(
        config,
        limits=arm_limits(params.arm_limits),
        workspace=None if params.workspace is None else params.workspace.build(),
    )
    return Hosted({"arm": arm})
