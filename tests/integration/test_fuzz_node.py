"""Structure-aware fuzzing of a live node: valid messages from the schemas, each broken in one way.

Every message starts as a valid command or RPC built from the declared schemas
(`messages.py`, `rpc.METHODS`) and is then broken in exactly one way: a field
removed, retyped, out of range, NaN, oversized, duplicated, or the wrong schema
version. Valid commands from another sender are interleaved. The node must
refuse every broken message (each broken request answered with an error), keep
answering pings within 100 ms, keep its pid, and never apply a broken command:
the `cmd_seq` its states report is only ever the seq of a valid message.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dexscrew_sdk import codec, rpc
from dexscrew_sdk.interfaces import ur5e_limits, xhand_limits
from dexscrew_sdk.messages import arm_servo_message, hand_command_message, rpc_request
from dexscrew_sdk.records import SENDER_SHIFT
from tests.conftest import NodeProcess, wait_until
from tests.wire import frames_of, with_header

pytestmark = pytest.mark.integration

VALID_SENDER = 0x1234 << SENDER_SHIFT  # seqs of the valid commands
BROKEN_SENDER = 0x7FFF << SENDER_SHIFT  # seqs of the broken ones: never to be seen applied
BATCH = 24  # broken messages between two pings
EXAMPLES = 90  # 90 x 24 = 2,160 broken messages
PING_LIMIT_S = 0.1
TIME_BUDGET_S = 60.0
HAND, ARM = xhand_limits(), ur5e_limits()
_broken_seq = itertools.count(BROKEN_SENDER + 1)

# ------------------------------------------------------------------ one way to break a message each
Frames = list[bytes]
Draw = Callable[[st.SearchStrategy[Any]], Any]


def _header_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Frames, Draw], Frames]:
    return lambda frames, draw: with_header(frames, edit)


def _drop_header_key(frames: Frames, draw: Draw) -> Frames:
    key = draw(st.sampled_from(["v", "t", "seq", "ns", "f", "a"]))
    return with_header(frames, lambda h: h.pop(key))


def _retype_header(frames: Frames, draw: Draw) -> Frames:
    key = draw(st.sampled_from(["t", "seq", "ns", "f", "a"]))
    value = draw(st.sampled_from(["7", 7.5, True, None, [1], {"x": 1}]))
    if key == "t" and value == "7":
        value = 7
    return with_header(frames, lambda h: h.__setitem__(key, value))


def _wrong_version(frames: Frames, draw: Draw) -> Frames:
    v = draw(st.sampled_from([0, 2, 1.0, True, "1", None, -1, 2**40]))
    return with_header(frames, lambda h: h.__setitem__("v", v))


def _negative_seq(frames: Frames, draw: Draw) -> Frames:
    seq = draw(st.integers(-(2**63), -1))
    return with_header(frames, lambda h: h.__setitem__("seq", seq))


def _drop_array(frames: Frames, draw: Draw) -> Frames:
    return with_header(frames, lambda h: h.__setitem__("a", [e for e in h["a"] if e[0] != "q_rad"]))


def _retype_array(frames: Frames, draw: Draw) -> Frames:
    what = draw(st.sampled_from(["dtype", "shape", "bytes", "name"]))

    def edit(h: dict[str, Any]) -> None:
        entry = next(e for e in h["a"] if e[0] == "q_rad")
        if what == "dtype":
            entry[1] = draw(st.sampled_from(["<f4", ">f8", "<i8", "|u1", 8]))
        elif what == "shape":
            entry[2] = draw(st.sampled_from([[5], [13], [2, 6], [], "12", None]))
        elif what == "bytes":
            entry[3] = draw(st.sampled_from([entry[3][:-8], entry[3] + b"\x00" * 8, "text", 3.0]))
        else:
            entry[0] = draw(st.sampled_from(["q", "Q_RAD", "q_rad ", 5]))

    return with_header(frames, edit)


def _nan_entry(frames: Frames, draw: Draw) -> Frames:
    i = draw(st.integers(0, 5))
    bad = draw(st.sampled_from([math.nan, math.inf, -math.inf]))

    def edit(h: dict[str, Any]) -> None:
        entry = next(e for e in h["a"] if e[0] == "q_rad")
        arr = np.frombuffer(entry[3], "<f8").copy()
        arr[i] = bad
        entry[3] = arr.tobytes()

    return with_header(frames, edit)


def _duplicate_array(frames: Frames, draw: Draw) -> Frames:
    return with_header(frames, lambda h: h.__setitem__("a", [*h["a"], list(h["a"][0])]))


def _unknown_field(frames: Frames, draw: Draw) -> Frames:
    key = draw(st.sampled_from(["mode", "cmd_seq", "x", "device"]))
    return with_header(frames, lambda h: h["f"].__setitem__(key, 1))


def _oversized(frames: Frames, draw: Draw) -> Frames:
    return [frames[0], b"\x00" * draw(st.sampled_from([(1 << 20) + 1, 2 << 20]))]


def _truncated(frames: Frames, draw: Draw) -> Frames:
    cut = draw(st.integers(1, len(frames[0]) - 1))
    return [frames[0][:cut]]


COMMAND_BREAKS: list[Callable[[Frames, Draw], Frames]] = [
    _drop_header_key,
    _retype_header,
    _wrong_version,
    _negative_seq,
    _drop_array,
    _retype_array,
    _nan_entry,
    _duplicate_array,
    _unknown_field,
    _oversized,
    _truncated,
]


def _within(limits: Any, draw: Draw) -> np.ndarray:
    u = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=limits.dof, max_size=limits.dof)))
    return limits.lower_rad + u * (limits.upper_rad - limits.lower_rad)


@st.composite
def broken_command(draw: Draw) -> tuple[str, Frames]:
    device = draw(st.sampled_from(["hand", "arm"]))
    seq = next(_broken_seq)
    if device == "hand":
        q = _within(HAND, draw)
        msg = hand_command_message(q, None, None, seq)
    else:
        q = _within(ARM, draw)
        msg = arm_servo_message(q, seq)
    how = draw(st.sampled_from([*COMMAND_BREAKS, "out_of_range", "wrong_device", "negative_gain"]))
    if how == "out_of_range":
        limits = HAND if device == "hand" else ARM
        i = draw(st.integers(0, limits.dof - 1))
        q = q.copy()
        q[i] = limits.upper_rad[i] + draw(st.floats(1e-6, 1e6))
        msg.arrays["q_rad"] = q
        return "command", frames_of(device.encode(), msg)
    if how == "wrong_device":
        topic = draw(st.sampled_from([b"gripper", b"", b"arm" if device == "hand" else b"hand", b"hand/state"]))
        return "command", frames_of(topic, msg)
    if how == "negative_gain":
        kp = np.full(12, 1.0)
        kp[draw(st.integers(0, 11))] = -draw(st.floats(1e-6, 1e3))
        return "command", frames_of(b"hand", hand_command_message(_within(HAND, draw), kp, None, seq))
    return "command", how(frames_of(device.encode(), msg), draw)


# ------------------------------------------------------------------ requests, from rpc.METHODS
VALID_ARGS: dict[str, tuple[str, dict[str, Any]]] = {
    "move_to": ("arm", {"q_rad": ARM.clip(np.zeros(6)).tolist(), "speed_rad_s": 1.0, "timeout_s": 5.0}),
    "tick": ("", {"periods": 1, "after": {}}),
    "stop": ("hand", {}),
    "emergency_stop": ("arm", {}),
    "release_emergency_stop": ("hand", {}),
    "info": ("tactile", {}),
    "ping": ("", {}),
}


def _bad_value(spec: rpc.Arg, draw: Draw) -> Any:
    """A value this argument's schema refuses, of one kind: retyped, out of range, NaN, oversized."""
    choices: list[Any] = []
    if spec.kind in ("float", "int"):
        choices += ["1.0", None, True, [1.0]]
        if math.isfinite(spec.hi):
            choices.append(spec.hi * 10 + 1)
        if math.isfinite(spec.lo):
            choices.append(spec.lo - 1)
        if spec.kind == "float":
            choices += [math.nan, math.inf]
        else:
            choices.append(1.5)
    elif spec.kind == "vector":
        choices += [None, "q", [0.0] * (spec.size + 1), [0.0] * (spec.size - 1), [math.nan] * spec.size,
                    ["0.1"] * spec.size, [True] * spec.size]  # fmt: skip
    elif spec.kind == "seq_map":
        choices += [[], {"hand": -1}, {"hand": True}, {"hand": 1.5}, {f"d{i}": 0 for i in range(spec.max_items + 1)}]
    elif spec.kind == "str":
        choices += [5, None, "x" * (spec.max_items + 1)]
    else:
        choices += [[], 5]
    return draw(st.sampled_from(choices))


@st.composite
def broken_request(draw: Draw) -> tuple[str, Frames]:
    method = draw(st.sampled_from(sorted(VALID_ARGS)))
    device, args = VALID_ARGS[method]
    fields: dict[str, Any] = {"device": device, "method": method, "args": dict(args)}
    schema = rpc.METHODS[method].args
    ways = ["drop_field", "retype_field", "unknown_arg", "wrong_version", "unknown_method", "oversized"]
    if schema:
        ways += ["bad_arg", "bad_arg"]
    if any(a.required for a in schema.values()):
        ways.append("drop_required_arg")
    how = draw(st.sampled_from(ways))
    rid = draw(st.integers(1, 2**31))
    if how == "drop_field":
        del fields[draw(st.sampled_from(["device", "method", "args"]))]
    elif how == "retype_field":
        key = draw(st.sampled_from(["device", "method", "args"]))
        fields[key] = draw(st.sampled_from([5, None, ["x"], True] if key != "args" else [5, None, ["x"], "x"]))
    elif how == "unknown_arg":
        fields["args"]["sped"] = 1.0
    elif how == "unknown_method":
        fields["method"] = draw(st.sampled_from(["selfdestruct", "move", "PING", "", "__init__"]))
    elif how == "bad_arg":
        name = draw(st.sampled_from(sorted(schema)))
        fields["args"][name] = _bad_value(schema[name], draw)
    elif how == "drop_required_arg":
        del fields["args"][next(n for n, a in schema.items() if a.required)]
    msg = rpc_request(rid, "", "", {})
    msg.fields = fields
    frames = [_pack_unchecked(msg)]
    if how == "wrong_version":
        frames = with_header(frames, lambda h: h.__setitem__("v", draw(st.sampled_from([0, 2, 1.0, True]))))
    elif how == "oversized":
        frames = [frames[0], b"\x00" * ((1 << 20) + 1)]
    return "request", frames


def _pack_unchecked(msg: Any) -> bytes:
    """Header bytes as a client that is not the SDK could write them (the SDK's encoder refuses some)."""
    import msgpack

    header = {"v": 1, "t": msg.type, "seq": msg.seq, "ns": msg.stamp_ns, "f": msg.fields, "a": []}
    return b"rpc" + codec.TOPIC_END + msgpack.packb(header, use_bin_type=True)


# ------------------------------------------------------------------ the live node and its observers
class Observer:
    def __init__(self, base_port: int) -> None:
        self.ctx = zmq.Context()
        self.push = self._sock(zmq.PUSH, f"tcp://127.0.0.1:{base_port + 1}")
        self.push.sndhwm = 100_000
        self.bad_rpc = self._sock(zmq.DEALER, f"tcp://127.0.0.1:{base_port + 2}")
        self.pinger = self._sock(zmq.DEALER, f"tcp://127.0.0.1:{base_port + 2}")
        self.sub = self._sock(zmq.SUB, f"tcp://127.0.0.1:{base_port}")
        for topic in (b"hand/state", b"arm/state"):
            self.sub.setsockopt(zmq.SUBSCRIBE, topic + codec.TOPIC_END)
        self.cmd_seqs: set[int] = set()
        self.replies: list[dict[str, Any]] = []
        self.ping_s: list[float] = []
        self.pids: set[int] = set()
        self._ids = itertools.count(1)

    def _sock(self, kind: int, endpoint: str) -> zmq.Socket:
        s = self.ctx.socket(kind)
        s.linger = 0
        s.connect(endpoint)
        return s

    def drain(self) -> None:
        while self.sub.poll(0):
            _, msg = codec.decode(self.sub.recv_multipart())
            self.cmd_seqs.add(int(msg.fields["cmd_seq"]))
        while self.bad_rpc.poll(0):
            self.replies.append(codec.decode(self.bad_rpc.recv_multipart())[1].fields)

    def ping(self) -> dict[str, Any]:
        rid = next(self._ids)
        t0 = time.monotonic()
        self.pinger.send_multipart(frames_of(b"rpc", rpc_request(rid, "", "ping", {})))
        while True:
            remaining = PING_LIMIT_S * 20 - (time.monotonic() - t0)
            assert remaining > 0 and self.pinger.poll(int(remaining * 1000)), "ping unanswered"
            _, reply = codec.decode(self.pinger.recv_multipart())
            if reply.seq == rid:
                self.ping_s.append(time.monotonic() - t0)
                self.pids.add(reply.fields["result"]["pid"])
                return reply.fields["result"]

    def close(self) -> None:
        self.ctx.destroy(linger=0)


@pytest.fixture
def observer(reference_node: NodeProcess) -> Iterator[Observer]:
    obs = Observer(reference_node.base_port)
    wait_until(lambda: (obs.drain(), obs.cmd_seqs)[1], 5.0, "first states")
    yield obs
    obs.close()


def test_two_thousand_broken_messages_are_refused_while_the_node_answers_and_applies_only_valid_ones(
    reference_node: NodeProcess, observer: Observer
) -> None:
    pid = reference_node.proc.pid
    valid: set[int] = {-1}
    sent = {"command": 0, "request": 0}
    valid_seq = itertools.count(VALID_SENDER + 1)
    start = time.monotonic()
    observer.ping()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(st.one_of(broken_command(), broken_request()), min_size=BATCH, max_size=BATCH), st.data())
    def batch(messages: list[tuple[str, Frames]], data: st.DataObject) -> None:
        for i, (kind, frames) in enumerate(messages):
            (observer.push if kind == "command" else observer.bad_rpc).send_multipart(frames)
            sent[kind] += 1
            if i % 8 == 0:  # valid commands from another sender, interleaved
                seq = next(valid_seq)
                if data.draw(st.booleans()):
                    msg = hand_command_message(_within(HAND, data.draw), None, None, seq)
                    observer.push.send_multipart(frames_of(b"hand", msg))
                else:
                    observer.push.send_multipart(frames_of(b"arm", arm_servo_message(_within(ARM, data.draw), seq)))
                valid.add(seq)
        pong = observer.ping()
        assert pong["pid"] == pid and observer.ping_s[-1] < PING_LIMIT_S, observer.ping_s[-1]
        observer.drain()
        assert observer.cmd_seqs <= valid, sorted(observer.cmd_seqs - valid)[:5]

    batch()
    ping_ms = np.array(observer.ping_s) * 1e3
    applied = len(observer.cmd_seqs - {-1})
    print(f"{sum(sent.values())} broken messages in {time.monotonic() - start:.1f} s; ping max {ping_ms.max():.1f} ms")
    print(f"ping p50 {np.median(ping_ms):.1f} ms; valid commands seen applied: {applied}")
    elapsed = time.monotonic() - start
    total = sum(sent.values())
    assert total >= 2000 and elapsed < TIME_BUDGET_S, (total, elapsed)
    # every broken request was answered, and every answer was a refusal
    wait_until(lambda: (observer.drain(), len(observer.replies) >= sent["request"])[1], 10.0, "every reply")
    assert len(observer.replies) == sent["request"] and not any(r["ok"] for r in observer.replies)
    # the node still follows valid input: a last valid command per device is applied
    finals = [next(valid_seq), next(valid_seq)]
    valid.update(finals)
    observer.push.send_multipart(
        frames_of(b"hand", hand_command_message(HAND.clip(np.zeros(12)), None, None, finals[0]))
    )
    observer.push.send_multipart(frames_of(b"arm", arm_servo_message(ARM.clip(np.zeros(6)), finals[1])))
    wait_until(lambda: (observer.drain(), set(finals) <= observer.cmd_seqs)[1], 5.0, "the last valid commands applied")
    assert observer.cmd_seqs <= valid
    assert observer.pids == {pid} and reference_node.proc.poll() is None
    assert max(observer.ping_s) < PING_LIMIT_S
