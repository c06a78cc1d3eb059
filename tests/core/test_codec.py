"""The wire codec: round trips, and every kind of bad frame is refused with a CodecError."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk import codec, joints
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import CodecError
from dexscrew_sdk.messages import (
    arm_state_to_message,
    hand_command_message,
    message_to_arm_state,
    message_to_tactile,
    tactile_to_message,
)
from dexscrew_sdk.records import ArmState, DeviceMode, TactileFrame
from tests.wire import frames_of, split_header, with_header, with_inline_bytes

finite64 = st.floats(-1e6, 1e6, allow_nan=False)
finite32 = st.floats(-1e3, 1e3, allow_nan=False, width=32)


def _roundtrip(topic: bytes, msg: Message) -> tuple[bytes, Message]:
    return codec.decode(frames_of(topic, msg))


@given(
    q=hnp.arrays(np.float64, 6, elements=finite64),
    seq=st.integers(0, 2**62),
    mode=st.sampled_from(list(DeviceMode)),
    cmd_seq=st.integers(-1, 2**40),
)
def test_arm_state_roundtrip(q: np.ndarray, seq: int, mode: DeviceMode, cmd_seq: int) -> None:
    state = ArmState(seq, 123, q, -q, q[::-1].copy(), q * 2, mode, cmd_seq)
    topic, msg = _roundtrip(b"arm/state", arm_state_to_message(state))
    back = message_to_arm_state(msg)
    assert topic == b"arm/state"
    assert back.seq == seq and back.mode == mode and back.cmd_seq == cmd_seq
    np.testing.assert_array_equal(back.q_rad, q)
    np.testing.assert_array_equal(back.tcp_force_n, q * 2)


@settings(max_examples=30)
@given(force=hnp.arrays(np.float32, joints.TACTILE_SHAPE, elements=finite32))
def test_tactile_roundtrip_is_exact(force: np.ndarray) -> None:
    _, msg = _roundtrip(b"tactile/state", tactile_to_message(TactileFrame(7, 9, force)))
    frame = message_to_tactile(msg)
    assert frame.force_n.dtype == np.float32
    np.testing.assert_array_equal(frame.force_n, force)


def test_optional_arrays_roundtrip() -> None:
    q = np.linspace(0, 1, 12)
    _, msg = _roundtrip(b"hand", hand_command_message(q, np.full(12, 3.0), None, 5))
    assert set(msg.arrays) == {"q_rad", "kp"}


def _valid_frames() -> list[bytes]:
    force = np.ones(joints.TACTILE_SHAPE, np.float32)
    return frames_of(b"tactile/state", tactile_to_message(TactileFrame(1, 2, force)))


def _with_header(**changes: object) -> list[bytes]:
    return with_header(_valid_frames(), lambda h: h.update(changes))


def _force_bytes() -> bytes:
    return split_header(_valid_frames())[1]["a"][0][3]


def _force_as_frame() -> list[bytes]:
    """The tactile array sent as a separate frame instead of inline."""
    return [_with_header(a=[["force_n", "<f4", [5, 120, 3]]])[0], _force_bytes()]


@pytest.mark.parametrize(
    ("frames", "needle"),
    [
        ([], "empty"),
        ([b"no-terminator"], "terminator"),
        ([b"t\x00\xc1"], "msgpack"),  # 0xc1 is never valid msgpack
        ([b"t\x00" + msgpack.packb([1, 2])], "map"),
        (_with_header(v=99), "schema version"),
        (_with_header(t="teleport"), "unknown message type"),
        (_with_header(seq="1"), "integers"),
        (_with_header(f={"mode": 1}), "unknown field"),
        (_with_header(a=[["force_n", "<f8", [5, 120, 3], _force_bytes()]]), "dtype"),
        (_with_header(a=[["force_n", "<f4", [5, 120, 4], _force_bytes()]]), "shape"),
        (_with_header(a=[["pressure", "<f4", [5, 120, 3], _force_bytes()]]), "unknown array"),
        (_with_header(a=[["force_n", "<f4", [5, 120, 3], "text"]]), "msgpack bin"),
        (_with_header(a=[]), "missing required"),
        (_with_header(a=[["force_n", "<f4", [5, 120, 3]]]), "more array frames"),  # promised frame missing
        ([*_valid_frames(), _force_bytes()], "does not list"),  # a frame nobody asked for
        (with_inline_bytes(_valid_frames(), 0, _force_bytes()[:-4]), "bytes"),  # truncated array
        ([_force_as_frame()[0], _force_bytes()[:-4]], "bytes"),  # truncated array frame
        ([_valid_frames()[0], b"\x00" * (codec.MAX_MESSAGE_BYTES + 1)], "exceeds"),
    ],
)
def test_bad_frames_are_refused(frames: list[bytes], needle: str) -> None:
    with pytest.raises(CodecError, match=needle):
        codec.decode(frames)


def test_large_arrays_travel_as_their_own_frames() -> None:
    force = np.arange(1800, dtype=np.float32).reshape(joints.TACTILE_SHAPE)
    frames = frames_of(b"t", tactile_to_message(TactileFrame(1, 2, force)), inline_max_bytes=0)
    assert len(frames) == 2
    np.testing.assert_array_equal(codec.decode(frames)[1].arrays["force_n"], force)
    np.testing.assert_array_equal(codec.decode(_force_as_frame())[1].arrays["force_n"], 1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    values = np.frombuffer(_force_bytes(), np.float32).copy()
    values[17] = bad
    with pytest.raises(CodecError, match="NaN"):
        codec.decode(with_inline_bytes(_valid_frames(), 0, values.tobytes()))
    with pytest.raises(CodecError, match="NaN"):
        codec.decode([_force_as_frame()[0], values.tobytes()])
    reply = {"ok": True, "result": float(bad), "error_kind": "", "error": ""}
    with pytest.raises(CodecError, match="not finite"):
        codec.decode(_with_header(t="rpc_reply", f=reply, a=[]))


def test_huge_but_finite_doubles_are_accepted() -> None:
    q = np.full(6, 1.7e308)  # their sum overflows; the values themselves are finite
    _, msg = codec.decode(frames_of(b"arm", Message("arm_servo", 0, 0, {}, {"q_rad": q})))
    np.testing.assert_array_equal(msg.arrays["q_rad"], q)


def test_missing_required_array_with_optional_present() -> None:
    q = np.zeros(12)
    frames = frames_of(b"hand", hand_command_message(q, q, None, 1))
    with pytest.raises(CodecError, match="missing required"):
        codec.decode(with_header(frames, lambda h: h.update(a=h["a"][1:])))  # drop q_rad, keep kp


def test_encode_refuses_wrong_shape() -> None:
    with pytest.raises(CodecError, match="shape"):
        codec.encode(b"x", Message("arm_servo", 0, 0, {}, {"q_rad": np.zeros(7)}))


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=300), min_size=0, max_size=4))
def test_garbage_never_decodes_silently(frames: list[bytes]) -> None:
    """Random frames either fail with CodecError or decode to a fully valid message."""
    try:
        _, msg = codec.decode(frames)
    except CodecError:
        return
    schema = codec.schema_of(msg.type)
    for name, arr in msg.arrays.items():
        assert arr.shape == schema.arrays[name].shape
        assert np.isfinite(arr).all()


@settings(max_examples=60)
@given(
    force=hnp.arrays(np.float32, joints.TACTILE_SHAPE, elements=finite32),
    seq=st.integers(0, 2**64 - 1),
    stamp=st.integers(0, 2**64 - 1),
)
def test_template_frames_are_plain_msgpack(force: np.ndarray, seq: int, stamp: int) -> None:
    """The hot-path bytes decode identically through the generic, fully validating decoder."""
    frames = frames_of(b"tactile/state", tactile_to_message(TactileFrame(seq, stamp, force)))
    assert len(frames) == 1
    _, fast = codec.decode(frames)
    saved = dict(codec._TEMPLATES)
    codec._TEMPLATES.clear()
    try:
        _, generic = codec.decode(frames)
        regenerated = frames_of(b"tactile/state", tactile_to_message(TactileFrame(seq, stamp, force)))
    finally:
        codec._TEMPLATES.update(saved)
    assert (fast.type, fast.seq, fast.stamp_ns, fast.fields) == (generic.type, seq, stamp, {})
    np.testing.assert_array_equal(fast.arrays["force_n"], generic.arrays["force_n"])
    np.testing.assert_array_equal(codec.decode(regenerated)[1].arrays["force_n"], force)  # generic bytes, fast reader


def test_template_path_refuses_what_the_generic_path_refuses() -> None:
    frames = _valid_frames()
    values = np.frombuffer(_force_bytes(), np.float32).copy()
    values[3] = np.nan
    nan_frame = frames[0][: -values.nbytes] + values.tobytes()
    with pytest.raises(CodecError, match="NaN"):
        codec.decode([nan_frame])
    with pytest.raises(CodecError):
        codec.decode([frames[0][:-1]])  # one byte short: not the template, and not valid msgpack either
    with pytest.raises(CodecError):
        codec.decode([frames[0] + b"\x00"])  # trailing garbage
    with pytest.raises(CodecError, match="non-negative"):  # a negative seq is refused on the way out and in
        frames_of(b"t", Message("arm_servo", -5, 0, {}, {"q_rad": np.zeros(6)}))
    generic = frames_of(b"t", Message("arm_servo", 5, 0, {}, {"q_rad": np.zeros(6)}))
    with pytest.raises(CodecError, match="non-negative"):
        codec.decode(with_header(generic, lambda h: h.update(seq=-5)))
