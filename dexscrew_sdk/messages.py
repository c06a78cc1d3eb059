"""Message schemas of the bus and conversions between records and messages."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.codec import ArraySpec, Message, Schema, register
from dexscrew_sdk.records import ArmState, DeviceMode, HandState, TactileFrame

F8 = "<f8"
F4 = "<f4"
_ANY = (int, float, str, bool, list, dict, bytes, type(None))

ARM_STATE = register(
    Schema(
        "arm_state",
        arrays={
            "q_rad": ArraySpec(F8, (joints.ARM_DOF,)),
            "qd_rad_s": ArraySpec(F8, (joints.ARM_DOF,)),
            "tcp_pose": ArraySpec(F8, (6,)),
            "tcp_force_n": ArraySpec(F8, (6,)),
        },
        fields={"mode": int, "cmd_seq": int},
    )
)
HAND_STATE = register(
    Schema(
        "hand_state",
        arrays={"q_rad": ArraySpec(F8, (joints.HAND_DOF,)), "torque_nm": ArraySpec(F8, (joints.HAND_DOF,))},
        fields={"mode": int, "cmd_seq": int},
    )
)
TACTILE_FRAME = register(Schema("tactile_frame", arrays={"force_n": ArraySpec(F4, joints.TACTILE_SHAPE)}))
ARM_SERVO = register(Schema("arm_servo", arrays={"q_rad": ArraySpec(F8, (joints.ARM_DOF,))}))
HAND_COMMAND = register(
    Schema(
        "hand_command",
        arrays={
            "q_rad": ArraySpec(F8, (joints.HAND_DOF,)),
            "kp": ArraySpec(F8, (joints.HAND_DOF,), optional=True),
            "kd": ArraySpec(F8, (joints.HAND_DOF,), optional=True),
        },
    )
)
# Lifecycle RPC: small msgpack-native arguments and results; arrays go as lists.
RPC_REQUEST = register(
    Schema(
        "rpc_request",
        fields={"device": str, "method": str, "args": dict},
        required_fields=frozenset({"device", "method", "args"}),
    )
)
# `published`: {device: state seq} the call caused; the client waits for those states before
# returning, so a state() read right after any call already shows its effect.
RPC_REPLY = register(
    Schema(
        "rpc_reply",
        fields={"ok": bool, "result": _ANY, "error_kind": str, "error": str, "published": dict},
        required_fields=frozenset({"ok"}),
    )
)
# Node notices (rejected commands, watchdog stops) published on "<node>/event".
NODE_EVENT = register(Schema("node_event", fields={"event": str, "detail": str}))

STATE_TOPIC = "{device}/state"


def state_topic(device: str) -> bytes:
    return STATE_TOPIC.format(device=device).encode()


def now_ns() -> int:
    return time.monotonic_ns()


def arm_state_to_message(s: ArmState) -> Message:
    return Message(
        "arm_state",
        s.seq,
        s.stamp_ns,
        {"mode": int(s.mode), "cmd_seq": int(s.cmd_seq)},
        {"q_rad": s.q_rad, "qd_rad_s": s.qd_rad_s, "tcp_pose": s.tcp_pose, "tcp_force_n": s.tcp_force_n},
    )


def message_to_arm_state(m: Message) -> ArmState:
    a = m.arrays
    return ArmState(
        m.seq,
        m.stamp_ns,
        a["q_rad"],
        a["qd_rad_s"],
        a["tcp_pose"],
        a["tcp_force_n"],
        _mode(m.fields.get("mode", 0)),
        int(m.fields.get("cmd_seq", -1)),
    )


def hand_state_to_message(s: HandState) -> Message:
    return Message(
        "hand_state",
        s.seq,
        s.stamp_ns,
        {"mode": int(s.mode), "cmd_seq": int(s.cmd_seq)},
        {"q_rad": s.q_rad, "torque_nm": s.torque_nm},
    )


def message_to_hand_state(m: Message) -> HandState:
    return HandState(
        m.seq,
        m.stamp_ns,
        m.arrays["q_rad"],
        m.arrays["torque_nm"],
        _mode(m.fields.get("mode", 0)),
        int(m.fields.get("cmd_seq", -1)),
    )


def tactile_to_message(f: TactileFrame) -> Message:
    return Message("tactile_frame", f.seq, f.stamp_ns, {}, {"force_n": f.force_n})


def message_to_tactile(m: Message) -> TactileFrame:
    return TactileFrame(m.seq, m.stamp_ns, m.arrays["force_n"])


STATE_ENCODERS = {
    ArmState: arm_state_to_message,
    HandState: hand_state_to_message,
    TactileFrame: tactile_to_message,
}
STATE_DECODERS = {
    "arm_state": message_to_arm_state,
    "hand_state": message_to_hand_state,
    "tactile_frame": message_to_tactile,
}


def hand_command_message(q: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> Message:
    arrays: dict[str, np.ndarray] = {"q_rad": q}
    if kp is not None:
        arrays["kp"] = kp
    if kd is not None:
        arrays["kd"] = kd
    return Message("hand_command", seq, now_ns(), {}, arrays)


def arm_servo_message(q: np.ndarray, seq: int) -> Message:
    return Message("arm_servo", seq, now_ns(), {}, {"q_rad": q})


def rpc_request(request_id: int, device: str, method: str, args: dict[str, Any]) -> Message:
    return Message("rpc_request", request_id, now_ns(), {"device": device, "method": method, "args": args})


def _mode(value: Any) -> DeviceMode:
    try:
        return DeviceMode(int(value))
    except ValueError:
        return DeviceMode.FAULT
