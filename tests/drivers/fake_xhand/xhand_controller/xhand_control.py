"""Fake `xhand_controller.xhand_control`: the documented API over a simulated hand.

Test hooks (not part of the vendor API): `FAKE` holds the simulated device;
`reset_fake()` restores it; `FAKE.fail_next[method] = (code, message)` makes the
next call of that method return an SDK error; `FAKE.unresponsive = True` makes
the device stop answering (calls wait `FAKE.answer_timeout_s`, then report a
timeout, as the vendor SDK does on a silent bus).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

N_JOINTS, N_TIPS, N_TAXELS = 12, 5, 120


class ErrorStruct:
    def __init__(self, code: int = 0, message: str = "") -> None:
        self.error_code = code
        self.error_message = message


@dataclass
class FingerCommand_t:  # noqa: N801 (vendor name)
    id: int = 0
    kp: int = 0
    ki: int = 0
    kd: int = 0
    position: float = 0.0
    tor_max: int = 0
    mode: int = 0


class HandCommand_t:  # noqa: N801
    def __init__(self) -> None:
        self.finger_command = [FingerCommand_t() for _ in range(N_JOINTS)]


@dataclass
class FingerState_t:  # noqa: N801
    id: int = 0
    position: float = 0.0
    torque: float = 0.0
    raw_position: int = 0
    temperature: int = 30
    commboard_err: int = 0
    jonitboard_err: int = 0
    tipboard_err: int = 0


@dataclass
class Force_t:  # noqa: N801
    fx: float = 0.0
    fy: float = 0.0
    fz: float = 0.0


@dataclass
class SensorData_t:  # noqa: N801
    calc_force: Force_t = field(default_factory=Force_t)
    raw_force: list[Force_t] = field(default_factory=lambda: [Force_t() for _ in range(N_TAXELS)])
    calc_temperature: float = 30.0


class HandState_t:  # noqa: N801
    def __init__(self) -> None:
        self.finger_state = [FingerState_t(id=i) for i in range(N_JOINTS)]
        self.sensor_data = [SensorData_t() for _ in range(N_TIPS)]


@dataclass
class _Device:
    opened: str = ""
    positions: list[float] = field(default_factory=lambda: [0.0] * N_JOINTS)
    taxel_bias_n: float = 0.0  # a constant offset on every taxel, like an unzeroed pad
    press_n: list[float] = field(default_factory=lambda: [0.0] * N_TIPS)  # fz on taxel 0 of each tip
    commands: list[HandCommand_t] = field(default_factory=list)
    fail_next: dict[str, tuple[int, str]] = field(default_factory=dict)
    unresponsive: bool = False
    answer_timeout_s: float = 0.05
    serial_ports: list[str] = field(default_factory=lambda: ["/dev/ttyUSB0"])
    ethercat_ifs: list[str] = field(default_factory=lambda: ["enp3s0"])


FAKE = _Device()


def reset_fake() -> None:
    global FAKE
    FAKE.__dict__.update(_Device().__dict__)


def _failure(method: str) -> ErrorStruct | None:
    if FAKE.unresponsive:
        time.sleep(FAKE.answer_timeout_s)
        return ErrorStruct(-2, f"{method}: receive timeout, no response from hand")
    if method in FAKE.fail_next:
        return ErrorStruct(*FAKE.fail_next.pop(method))
    return None


class XHandControl:
    def enumerate_devices(self, protocol: str) -> list[str]:
        return list(FAKE.serial_ports if protocol == "RS485" else FAKE.ethercat_ifs)

    def open_serial(self, port: str, baudrate: int) -> ErrorStruct:
        if port not in FAKE.serial_ports:
            return ErrorStruct(-1, f"open serial port {port} failed")
        FAKE.opened = f"rs485:{port}@{baudrate}"
        return ErrorStruct()

    def open_ethercat(self, ifname: str) -> ErrorStruct:
        if ifname not in FAKE.ethercat_ifs:
            return ErrorStruct(-1, f"open EtherCAT interface {ifname} failed")
        FAKE.opened = f"ethercat:{ifname}"
        return ErrorStruct()

    def list_hands_id(self) -> list[int]:
        return [0] if FAKE.opened else []

    def send_command(self, hand_id: int, command: HandCommand_t) -> ErrorStruct:
        err = _failure("send_command")
        if err is not None:
            return err
        FAKE.commands.append(command)
        for i, fc in enumerate(command.finger_command):
            if fc.mode == 3:
                FAKE.positions[i] = fc.position  # the fake reaches position targets at once
        return ErrorStruct()

    def read_state(self, hand_id: int, force_update: bool) -> tuple[ErrorStruct, HandState_t]:
        state = HandState_t()
        err = _failure("read_state")
        if err is not None:
            return err, state
        for i, fs in enumerate(state.finger_state):
            fs.position = FAKE.positions[i]
            fs.torque = 0.01 * i
        for tip, sd in enumerate(state.sensor_data):
            for k, f in enumerate(sd.raw_force):
                f.fz = FAKE.taxel_bias_n + (FAKE.press_n[tip] if k == 0 else 0.0)
                f.fx = 0.001 * tip
            sd.calc_force.fz = sum(f.fz for f in sd.raw_force)
        return ErrorStruct(), state

    def reset_sensor(self, hand_id: int, sensor_id: int) -> ErrorStruct:
        return _failure("reset_sensor") or ErrorStruct()

    def close_device(self) -> None:
        FAKE.opened = ""

    def get_serial_number(self, hand_id: int) -> tuple[ErrorStruct, str]:
        return ErrorStruct(), "XH1-FAKE-0001"

    def get_sdk_version(self) -> str:
        return "1.1.7-fake"

    def read_device_info(self, hand_id: int) -> tuple[ErrorStruct, dict[str, str]]:
        return ErrorStruct(), {"model": "XHAND1", "firmware": "fake"}
