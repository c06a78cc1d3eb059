"""The emulated UR controller: registers, the control script's command protocol, safety state.

It plays what the real controller and ur_rtde's uploaded control script do
together: commands arrive in input_int_register_0 with arguments in the input
double registers; the script answers in output_int_register_0 (1 ready, 2 done).
Motion goes to an `Arm` (kinematic reference arm or the twin's arm) through its
public `servo()`, so the arm's own limits still apply. Every access to the arm
and to the controller state holds `lock`, which the simulation loop shares.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from dexscrew_sdk import kinematics
from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.interfaces import Arm
from twins.ur_emulator.rtde_types import register

log = logging.getLogger(__name__)

# Command ids of ur_rtde's control script (input_int_register_0).
NO_CMD, MOVEJ, MOVEJ_IK, MOVEL, MOVEL_FK = 0, 1, 2, 3, 4
SPEEDJ, SPEEDL, SERVOJ, SPEED_STOP, SERVO_STOP = 9, 10, 11, 15, 16
SET_PAYLOAD, SET_TCP, GET_IK_ARGS, PROTECTIVE_STOP = 17, 29, 30, 31
STOPL, STOPJ, SET_WATCHDOG, WATCHDOG, GET_TCP_OFFSET = 33, 34, 35, 38, 40
GET_FK_DEFAULT, GET_FK_ARGS, GET_IK_DEFAULT, IS_STEADY, STOP_SCRIPT = 43, 44, 46, 47, 255
REALTIME = {SERVOJ, SPEEDJ, SPEEDL, WATCHDOG, 6, 12, 24, 25, 26, 27, 58, 66, 67, 68, 69, 70, 71}
READY, DONE = 1, 2

# Controller enumerations (UR RTDE guide).
ROBOT_MODE_RUNNING = 7
SAFETY_NORMAL, SAFETY_PROTECTIVE, SAFETY_ROBOT_ESTOP = 1, 3, 7
RUNTIME_STOPPED, RUNTIME_PLAYING = 1, 2
STATUS_POWER_ON, STATUS_PROGRAM_RUNNING = 1 << 0, 1 << 1
SAFETY_BIT_NORMAL, SAFETY_BIT_PROTECTIVE, SAFETY_BIT_ROBOT_ESTOP, SAFETY_BIT_ESTOP = 1 << 0, 1 << 2, 1 << 6, 1 << 7


@dataclass
class _Motion:
    """A joint-space interpolated move (moveJ) or a velocity command (speedJ)."""

    start: np.ndarray
    goal: np.ndarray
    t0: float
    duration_s: float
    blocking: bool
    velocity: np.ndarray | None = None
    until: float = 0.0


@dataclass
class ControllerState:
    in_int: np.ndarray = field(default_factory=lambda: np.zeros(48, dtype=np.int64))
    in_double: np.ndarray = field(default_factory=lambda: np.zeros(48))
    out_int: np.ndarray = field(default_factory=lambda: np.zeros(48, dtype=np.int64))
    out_double: np.ndarray = field(default_factory=lambda: np.zeros(48))
    script_running: bool = False
    protective_stop: bool = False
    emergency_stop: bool = False
    tcp_offset: np.ndarray = field(default_factory=lambda: np.zeros(6))
    payload_kg: float = 0.0
    payload_cog_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    speed_slider: float = 1.0
    digital_out: int = 0


class EmulatedController:
    """Shared state of the emulator, stepped by `tick()` at the controller rate."""

    def __init__(self, arm: Arm, lock: threading.RLock, period_s: float = 0.002) -> None:
        self.arm = arm
        self.lock = lock
        self.period_s = period_s
        self.state = ControllerState()
        self._motion: _Motion | None = None
        self._busy_cmd = NO_CMD
        self._t0 = time.monotonic()
        self._outputs: dict[str, object] = {}
        self._fresh: set[int] = set()  # double registers the last package carried (others are stale)
        self.tick()

    # ------------------------------------------------------------------ outputs
    def outputs(self) -> dict[str, object]:
        """Newest values of every output variable (a consistent snapshot)."""
        with self.lock:
            return self._outputs

    def _snapshot(self) -> dict[str, object]:
        s = self.state
        arm_state = self.arm.state()
        q = arm_state.q_rad
        tcp = kinematics.forward(q, s.tcp_offset)
        safety_bits = SAFETY_BIT_NORMAL
        safety_mode = SAFETY_NORMAL
        if s.protective_stop:
            safety_bits, safety_mode = SAFETY_BIT_PROTECTIVE, SAFETY_PROTECTIVE
        if s.emergency_stop:
            safety_bits, safety_mode = SAFETY_BIT_ROBOT_ESTOP | SAFETY_BIT_ESTOP, SAFETY_ROBOT_ESTOP
        running = s.script_running
        out: dict[str, object] = {
            "timestamp": time.monotonic() - self._t0,
            "actual_q": q,
            "target_q": q,
            "actual_qd": arm_state.qd_rad_s,
            "target_qd": arm_state.qd_rad_s,
            "actual_TCP_pose": tcp,
            "target_TCP_pose": tcp,
            "actual_TCP_force": arm_state.tcp_force_n,
            "ft_raw_wrench": arm_state.tcp_force_n,
            "robot_mode": ROBOT_MODE_RUNNING,
            "joint_mode": [253] * 6,  # JOINT_RUNNING_MODE
            "safety_mode": safety_mode,
            "safety_status": safety_mode,
            "runtime_state": RUNTIME_PLAYING if running else RUNTIME_STOPPED,
            "robot_status_bits": STATUS_POWER_ON | (STATUS_PROGRAM_RUNNING if running else 0),
            "safety_status_bits": safety_bits,
            "speed_scaling": s.speed_slider,
            "target_speed_fraction": s.speed_slider,
            "actual_digital_output_bits": s.digital_out,
            "payload": s.payload_kg,
            "payload_cog": s.payload_cog_m,
            "actual_main_voltage": 48.0,
            "actual_robot_voltage": 48.0,
            "joint_temperatures": [30.0] * 6,
        }
        for i in range(48):
            out[f"output_int_register_{i}"] = int(s.out_int[i])
            out[f"output_double_register_{i}"] = float(s.out_double[i])
        return out

    # ------------------------------------------------------------------ inputs
    def on_input(self, values: dict[str, object]) -> None:
        """A data package from a client (variables of its input recipe), then the command if any."""
        with self.lock:
            s = self.state
            self._fresh = {reg[2] for reg in map(register, values) if reg is not None and reg[1] == "double"}
            for name, value in values.items():
                reg = register(name)
                if reg is not None and reg[1] == "int":
                    s.in_int[reg[2]] = int(value)  # type: ignore[call-overload]
                elif reg is not None and reg[1] == "double":
                    s.in_double[reg[2]] = float(value)  # type: ignore[arg-type]
            if values.get("speed_slider_mask", 0):
                s.speed_slider = float(np.clip(float(values["speed_slider_fraction"]), 0.0, 1.0))  # type: ignore[arg-type]
            for kind in ("standard", "configurable"):
                mask = int(values.get(f"{kind}_digital_output_mask", 0))  # type: ignore[call-overload]
                if mask:
                    shift = 0 if kind == "standard" else 8
                    bits = int(values[f"{kind}_digital_output"]) << shift  # type: ignore[call-overload]
                    s.digital_out = (s.digital_out & ~(mask << shift)) | (bits & (mask << shift))
            if "input_int_register_0" in values:
                self._command(int(s.in_int[0]))

    def _command(self, cmd: int) -> None:
        s = self.state
        if cmd == NO_CMD:
            if s.script_running and self._busy_cmd == NO_CMD:
                s.out_int[0] = READY
            return
        log.debug("command %d (running=%s, out0=%d)", cmd, s.script_running, s.out_int[0])
        if not s.script_running or s.protective_stop or s.emergency_stop:
            return  # no program to execute it; ur_rtde sees "not running" / the safety bits
        if cmd in REALTIME:
            self._realtime(cmd)
            return
        if s.out_int[0] != READY:
            return  # the script only takes a new command when it signalled ready
        s.out_int[0] = 0
        self._busy_cmd = cmd
        try:
            finished = self._blocking(cmd)
        except DexscrewError as exc:
            log.warning("command %d rejected by the arm: %s; protective stop", cmd, exc)
            self.trigger_protective_stop()
            return
        if finished:
            self._busy_cmd = NO_CMD
            s.out_int[0] = DONE

    def _args(self, n: int, start: int = 0) -> np.ndarray:
        return self.state.in_double[start : start + n].copy()

    def _realtime(self, cmd: int) -> None:
        if cmd == SERVOJ:
            self._motion = None
            self._servo(self._args(6))
        elif cmd == SPEEDJ:
            qd = self._args(6)
            duration = float(self._args(1, 7)[0])
            q = self.arm.state().q_rad
            self._motion = _Motion(q, q, time.monotonic(), 0.0, False, qd, time.monotonic() + (duration or 1e9))

    def _blocking(self, cmd: int) -> bool:
        """Execute a command that answers DONE; False when it finishes later in tick()."""
        s = self.state
        if cmd in (MOVEJ, MOVEJ_IK):
            goal = self._args(6)
            if cmd == MOVEJ_IK:
                goal = self._ik(goal, self.arm.state().q_rad)
            speed = max(float(self._args(1, 6)[0]), 1e-3) * s.speed_slider
            q = self.arm.state().q_rad
            self.arm.check_target(goal, "moveJ target")
            duration = float(np.max(np.abs(goal - q))) / max(speed, 1e-3)
            asynchronous = bool(s.in_int[1])
            self._motion = _Motion(q, goal, time.monotonic(), max(duration, 1e-3), not asynchronous)
            return asynchronous
        if cmd in (STOPJ, STOPL, SPEED_STOP, SERVO_STOP):
            self._halt()
        elif cmd == SET_TCP:
            s.tcp_offset = self._args(6)
        elif cmd == SET_PAYLOAD:
            s.payload_kg = float(self._args(1)[0])
            s.payload_cog_m = self._args(3, 1)
        elif cmd in (GET_FK_DEFAULT, GET_FK_ARGS):
            q = self.arm.state().q_rad if cmd == GET_FK_DEFAULT else self._args(6)
            tcp = self._args(6, 6) if cmd == GET_FK_ARGS and 11 in self._fresh else s.tcp_offset
            s.out_double[:6] = kinematics.forward(q, tcp)
        elif cmd in (GET_IK_ARGS, GET_IK_DEFAULT):
            q_near = self._args(6, 6) if cmd == GET_IK_ARGS else self.arm.state().q_rad
            s.out_double[:6] = self._ik(self._args(6), q_near)
        elif cmd == GET_TCP_OFFSET:
            s.out_double[:6] = s.tcp_offset
        elif cmd == IS_STEADY:
            s.out_int[1] = int(self._motion is None and float(np.max(np.abs(self.arm.state().qd_rad_s))) < 1e-3)
        elif cmd == PROTECTIVE_STOP:
            self.trigger_protective_stop()
            return False
        elif cmd == STOP_SCRIPT:
            self.stop_script()
            return False
        return True

    def _ik(self, pose: np.ndarray, q_near: np.ndarray) -> np.ndarray:
        q = kinematics.inverse(pose, q_near, self.state.tcp_offset)
        if q is None:
            raise _IKError(f"no inverse kinematics solution for pose {np.round(pose, 4).tolist()}")
        return q

    def _servo(self, q: np.ndarray) -> None:
        try:
            self.arm.servo(q)
        except DexscrewError as exc:
            log.warning("servo target rejected by the arm: %s; protective stop", exc)
            self.trigger_protective_stop()

    def _halt(self) -> None:
        self._motion = None
        self.arm.stop()

    # ------------------------------------------------------------------ script and safety
    def start_script(self) -> None:
        with self.lock:
            self.state.script_running = True
            self._busy_cmd = NO_CMD
            self.state.out_int[0] = READY

    def stop_script(self) -> None:
        with self.lock:
            self._halt()
            self.state.script_running = False
            self._busy_cmd = NO_CMD
            self.state.out_int[0] = 0

    def trigger_protective_stop(self) -> None:
        """What a collision or a limit violation does: halt, stop the program, latch the bit."""
        with self.lock:
            self.stop_script()
            self.state.protective_stop = True

    def unlock_protective_stop(self) -> bool:
        with self.lock:
            was = self.state.protective_stop
            self.state.protective_stop = False
            return was

    def press_emergency_stop(self) -> None:
        with self.lock:
            self.stop_script()
            self.state.emergency_stop = True

    def release_emergency_stop(self) -> None:
        with self.lock:
            self.state.emergency_stop = False

    # ------------------------------------------------------------------ stepping
    def tick(self) -> None:
        """One controller period: advance a move or speed command, refresh the outputs."""
        with self.lock:
            m = self._motion
            now = time.monotonic()
            if m is not None and m.velocity is not None:
                if now >= m.until:
                    self._halt()
                else:
                    q = self.arm.state().q_rad + m.velocity * self.period_s
                    self._servo(q)
            elif m is not None:
                s = min(1.0, (now - m.t0) / m.duration_s)
                smooth = s * s * (3 - 2 * s)  # zero velocity at both ends
                self._servo(m.start + (m.goal - m.start) * smooth)
                q = self.arm.state().q_rad
                if s >= 1.0 and (float(np.max(np.abs(m.goal - q))) < 2e-4 or now > m.t0 + m.duration_s + 1.0):
                    self._motion = None
                    if m.blocking and self._busy_cmd in (MOVEJ, MOVEJ_IK):
                        self._busy_cmd = NO_CMD
                        self.state.out_int[0] = DONE
            self._outputs = self._snapshot()


class _IKError(DexscrewError):
    """No inverse kinematics solution: the controller faults like a real one."""
