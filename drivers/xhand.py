"""XHand `Hand` and fingertip `TactileSensor` over the vendor SDK `xhand_controller`.

Both devices share one `XHandConnection` (one bus, one state read per period).
The SDK is imported lazily: it is not on PyPI, only vendor wheels for CPython
3.10/3.12 on linux x86_64 exist. Joint order goes through
`joints.HAND_SDK_TO_CANONICAL` (`[sdk_index] -> canonical_index`). Calibration:
canonical q = SDK q + joint offset; tactile frames have their zero subtracted.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexscrew_sdk import calibration_files, joints
from dexscrew_sdk.config import hand_limits
from dexscrew_sdk.errors import ConfigError, DeviceFault, DeviceNotConnected, DeviceTimeoutError
from dexscrew_sdk.interfaces import Hand, TactileSensor
from dexscrew_sdk.node import Hosted
from dexscrew_sdk.params import JointLimitParams, NodeContext
from dexscrew_sdk.records import DeviceInfo, DeviceMode, HandState, TactileFrame
from dexscrew_sdk.safety import as_vector

INSTALL_HINT = (
    "the XHand driver needs the vendor SDK `xhand_controller`, which is not on PyPI: get the wheel for your "
    "Python from Robotera (CPython 3.10 or 3.12, linux x86_64) and `pip install xhand_controller-<ver>-cp3XX-*.whl`"
)
MODES = {"powerless": 0, "position": 3, "force": 5}
SDK_TO_CANON = np.asarray(joints.HAND_SDK_TO_CANONICAL)
_TIMEOUT_WORDS = ("timeout", "timed out", "no response", "no answer")


class XHandSDKError(DeviceFault):
    """The XHand SDK reported an error code; the message carries the vendor's code and text."""

    def __init__(self, what: str, code: int, message: str) -> None:
        super().__init__(f"XHand {what}: SDK error {code}: {message}")
        self.code = code


def check(what: str, err: Any, elapsed_s: float = 0.0, timeout_s: float = float("inf")) -> None:
    """Turn an SDK error struct (and a call that took too long) into a specific exception."""
    code = int(getattr(err, "error_code", 0))
    message = str(getattr(err, "error_message", ""))
    if elapsed_s > timeout_s or (code != 0 and any(w in message.lower() for w in _TIMEOUT_WORDS)):
        raise DeviceTimeoutError(
            f"XHand {what}: no answer within {timeout_s * 1000:.0f} ms ({message or 'slow call'}); "
            "check the hand's power and cable"
        )
    if code != 0:
        raise XHandSDKError(what, code, message)


def _load_sdk() -> Any:
    try:
        from xhand_controller import xhand_control
    except ImportError as exc:
        raise DeviceNotConnected(f"{INSTALL_HINT} ({exc})") from None
    return xhand_control


def _gain_vector(value: Any, what: str, upper: int) -> np.ndarray:
    arr = as_vector(np.broadcast_to(value, (joints.HAND_DOF,)), joints.HAND_DOF, what)
    if (arr < 0).any() or (arr > upper).any():
        raise ConfigError(f"xhand {what} must be in [0, {upper}], got {arr.tolist()}")
    return arr


@dataclass
class XHandConfig:
    transport: str = "rs485"  # "rs485" | "ethercat"
    port: str = "/dev/ttyUSB0"
    baudrate: int = 3_000_000
    ifname: str = "eth0"
    hand_id: int = -1  # -1: the first hand the SDK lists
    kp: float | list[float] = 100  # one value for every joint, or 12
    ki: float | list[float] = 0  # one value for every joint, or 12
    kd: float | list[float] = 1  # one value for every joint, or 12
    tor_max: float | list[float] = 100  # one value for every joint, or 12
    mode: str = "position"
    rate_hz: float = 100.0  # RS485 tops out near 100 Hz
    timeout_s: float = 0.05
    joint_offsets_file: str = ""  # calibration file (dexscrew_sdk.calibration_files), kind hand_joint_offsets
    tactile_zero_file: str = ""  # calibration file, kind tactile_baseline (its baseline_n is subtracted)
    zero_tactile_frames: int = 0  # > 0: average this many frames at connect as the tactile zero

    def __post_init__(self) -> None:
        if self.transport not in ("rs485", "ethercat"):
            raise ConfigError(f"xhand transport {self.transport!r}: choose 'rs485' or 'ethercat'")
        if self.mode not in MODES:
            raise ConfigError(f"xhand mode {self.mode!r}: choose one of {sorted(MODES)}")
        if not (0 < self.rate_hz <= 1000 and self.timeout_s > 0):
            raise ConfigError("xhand rate_hz must be in (0, 1000] and timeout_s positive")
        if self.zero_tactile_frames < 0:
            raise ConfigError("xhand zero_tactile_frames must be >= 0")
        for name, upper in (("kp", 32767), ("ki", 32767), ("kd", 32767), ("tor_max", 65535)):
            try:
                setattr(self, name, _gain_vector(getattr(self, name), name, upper))
            except ValueError as exc:
                raise ConfigError(f"xhand {name}: {exc}") from None


@dataclass
class XHandNodeParams(XHandConfig):
    """`[nodes.N.params]` of `factory = "xhand"`: the SDK session's settings and the hand's limits."""

    hand_limits: JointLimitParams | None = None


class XHandConnection:
    """One SDK session shared by the hand and the tactile sensor; state read at most once per period."""

    def __init__(self, config: XHandConfig) -> None:
        self.config = config
        self.joint_offsets = np.zeros(joints.HAND_DOF)
        self.calibration: dict[str, dict[str, Any]] = {}  # kind -> file identity (path, sha256, revision)
        if config.joint_offsets_file:
            offsets = calibration_files.load_joint_offsets(config.joint_offsets_file)
            self.joint_offsets = offsets.arrays["joint_offsets_rad"]
            self.calibration[offsets.kind] = offsets.identity()
        self.tactile_zero = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
        if config.tactile_zero_file:
            baseline = calibration_files.load_tactile_baseline(config.tactile_zero_file)
            self.tactile_zero = baseline.arrays["baseline_n"].astype(np.float32)
            self.calibration[baseline.kind] = baseline.identity()
        self._sdk: Any = None
        self._ctl: Any = None
        self.hand_id = config.hand_id
        self._users = 0
        self._state: Any = None
        self._state_time = -1e9

    def open(self) -> None:
        self._users += 1
        if self._ctl is not None:
            return
        sdk = _load_sdk()
        ctl = sdk.XHandControl()
        c = self.config
        if c.transport == "rs485":
            err, where = ctl.open_serial(c.port, int(c.baudrate)), f"RS485 {c.port} @ {c.baudrate}"
        else:
            err, where = ctl.open_ethercat(c.ifname), f"EtherCAT {c.ifname}"
        if int(err.error_code) != 0:
            found = ctl.enumerate_devices("RS485" if c.transport == "rs485" else "EtherCAT")
            raise DeviceNotConnected(f"XHand: cannot open {where}: {err.error_message}; the SDK sees {found}")
        hands = list(ctl.list_hands_id())
        if not hands or (self.hand_id >= 0 and self.hand_id not in hands):
            ctl.close_device()
            raise DeviceNotConnected(f"XHand: no hand {self.hand_id} on {where}; hands found: {hands}")
        self.hand_id = hands[0] if self.hand_id < 0 else self.hand_id
        self._sdk, self._ctl = sdk, ctl
        if c.zero_tactile_frames > 0:
            frames = [self.raw_tactile(fresh=True) for _ in range(c.zero_tactile_frames)]
            self.tactile_zero = np.mean(frames, axis=0).astype(np.float32)

    def close(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._ctl is not None:
            self._ctl.close_device()
            self._ctl = None

    def _require(self) -> Any:
        if self._ctl is None:
            raise DeviceNotConnected("XHand: not connected; call connect() first")
        return self._ctl

    def read(self, fresh: bool = False) -> Any:
        """The newest SDK state; shared by both devices within one period of rate_hz."""
        now = time.monotonic()
        if fresh or now - self._state_time >= 1.0 / self.config.rate_hz:
            ctl = self._require()
            err, state = ctl.read_state(self.hand_id, True)
            check("read_state", err, time.monotonic() - now, self.config.timeout_s)
            self._state, self._state_time = state, now
        return self._state

    def send(self, q_canonical: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, mode: int) -> None:
        ctl = self._require()
        c = self.config
        q_sdk = (q_canonical - self.joint_offsets)[SDK_TO_CANON]
        kp_sdk = (c.kp if kp is None else np.clip(kp, 0, 32767))[SDK_TO_CANON]
        kd_sdk = (c.kd if kd is None else np.clip(kd, 0, 32767))[SDK_TO_CANON]
        command = self._sdk.HandCommand_t()
        for i, fc in enumerate(command.finger_command):
            fc.id = i
            fc.kp, fc.ki, fc.kd = int(kp_sdk[i]), int(c.ki[SDK_TO_CANON[i]]), int(kd_sdk[i])
            fc.position = float(q_sdk[i])
            fc.tor_max = int(c.tor_max[SDK_TO_CANON[i]])
            fc.mode = mode
        t0 = time.monotonic()
        err = ctl.send_command(self.hand_id, command)
        check("send_command", err, time.monotonic() - t0, c.timeout_s)

    def joints_canonical(self, state: Any) -> tuple[np.ndarray, np.ndarray]:
        q, tau = np.zeros(joints.HAND_DOF), np.zeros(joints.HAND_DOF)
        for k, fs in enumerate(state.finger_state):
            q[SDK_TO_CANON[k]] = fs.position
            tau[SDK_TO_CANON[k]] = fs.torque
        return q + self.joint_offsets, tau

    def raw_tactile(self, fresh: bool = False) -> np.ndarray:
        state = self.read(fresh)
        out = np.empty(joints.TACTILE_SHAPE, dtype=np.float32)
        for tip, sensor in enumerate(state.sensor_data):
            out[tip] = [(f.fx, f.fy, f.fz) for f in sensor.raw_force]
        return out


class XHand(Hand):
    def __init__(self, connection: XHandConnection, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn = connection
        self._mode = DeviceMode.IDLE
        self._cmd_seq = -1
        self._state_seq = 0

    def connect(self) -> None:
        self.conn.open()

    def close(self) -> None:
        self.conn.close()

    def info(self) -> DeviceInfo:
        c = self.conn.config
        extra = {
            "transport": c.transport,
            "mode": c.mode,
            "joint_offsets_rad": self.conn.joint_offsets.tolist(),
            "calibration": dict(self.conn.calibration),
        }
        return DeviceInfo.for_joints("hand", "xhand1", self.limits, c.rate_hz, extra)

    def state(self) -> HandState:
        q, tau = self.conn.joints_canonical(self.conn.read())
        self._state_seq += 1
        mode = self.reported_mode(self._mode)
        return HandState(self._state_seq, time.monotonic_ns(), q, tau, mode, self._cmd_seq)

    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None:
        self.conn.send(q_rad, kp, kd, MODES[self.conn.config.mode])
        self._mode = DeviceMode.SERVOING
        self._cmd_seq = seq

    def _apply_stop(self) -> None:
        """Hold where the fingers are now (position mode at the measured joints)."""
        q, _ = self.conn.joints_canonical(self.conn.read(fresh=True))
        self.conn.send(self.limits.clip(q), None, None, MODES["position"])
        self._mode = DeviceMode.STOPPED


class XHandTactile(TactileSensor):
    def __init__(self, connection: XHandConnection) -> None:
        super().__init__()
        self.conn = connection
        self._frame_seq = 0

    def connect(self) -> None:
        self.conn.open()

    def close(self) -> None:
        self.conn.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            "tactile",
            "xhand1-fingertips",
            rate_hz=self.conn.config.rate_hz,
            extra={
                "shape": list(joints.TACTILE_SHAPE),
                "threshold_n": joints.TACTILE_THRESHOLD_N,
                "calibration": dict(self.conn.calibration),
            },
        )

    def frame(self) -> TactileFrame:
        force = self.conn.raw_tactile() - self.conn.tactile_zero
        self._frame_seq += 1
        return TactileFrame(self._frame_seq, time.monotonic_ns(), force)


def make_xhand_node(params: XHandNodeParams, ctx: NodeContext) -> Hosted:
    """Device factory for `factory = "xhand"`: the hand and/or its fingertip sensors on one SDK session."""
    unknown = set(ctx.devices) - {"hand", "tactile"}
    if unknown:
        raise ConfigError(f"an xhand node serves 'hand' and 'tactile', not {sorted(unknown)}")
    if ctx.lockstep:
        raise ConfigError("an xhand node runs in real time; set cell.lockstep = false")
    config = XHandConfig(**{f.name: getattr(params, f.name) for f in dataclasses.fields(XHandConfig)})
    conn = XHandConnection(config)
    devices: dict[str, Any] = {}
    if "hand" in ctx.devices:
        devices["hand"] = XHand(conn, limits=hand_limits(params.hand_limits))
    if "tactile" in ctx.devices:
        devices["tactile"] = XHandTactile(conn)
    return Hosted(devices)
