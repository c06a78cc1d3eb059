"""Wire format of every bus message: a msgpack header, small arrays inline, large ones as raw frames.

Never pickle. A message travels as ZeroMQ multipart frames::

    [topic NUL header, large_array_0, large_array_1, ...]

The first frame starts with the topic and a NUL byte, so SUB prefix filtering on
``topic + NUL`` matches topics exactly. `header` is a msgpack map
``{"v": schema version, "t": type, "seq", "ns": stamp, "f": {scalar fields},
"a": [[name, dtype, shape(, raw bytes)], ...]}``. An array below
`INLINE_MAX_BYTES` (every state and command the SDK has: a tactile frame is
7.2 kB) carries its raw C-order bytes inline as a msgpack bin, so the message is
one frame, which keeps the SDK's per-message cost close to bare pyzmq's. A larger
array travels as its own frame, sent without copying. Either way the receiver
views the bytes without copying. `decode` validates everything against the
registered schema of the type: version, known type, field names and types, array
names, dtypes, shapes, byte counts, finite floats and a total size limit.
Anything else raises `CodecError`.
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from dexscrew_sdk.errors import CodecError

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: a tactile frame is 7.2 kB
MAX_HEADER_BYTES = 1 << 17
# Arrays up to this size ride inline in the header frame: below pyzmq's own zero-copy
# threshold (64 kB) a copy is cheaper than pinning a buffer, and one frame is cheaper than two.
INLINE_MAX_BYTES = 1 << 15
TOPIC_END = b"\x00"
_LOCAL = threading.local()  # one reused Packer per thread: no per-message set-up, no sharing


@dataclass(frozen=True)
class ArraySpec:
    dtype: str  # numpy dtype string, little-endian: "<f8", "<f4"
    shape: tuple[int, ...]
    optional: bool = False
    # derived once, for the hot decode path
    nbytes: int = field(init=False, compare=False)
    shape_list: list[int] = field(init=False, compare=False)
    is_float: bool = field(init=False, compare=False)
    np_dtype: np.dtype = field(init=False, compare=False)
    zeros: np.ndarray = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        dt = np.dtype(self.dtype)
        object.__setattr__(self, "np_dtype", dt)
        object.__setattr__(self, "zeros", np.zeros(math.prod(self.shape), dtype=dt))
        object.__setattr__(self, "nbytes", dt.itemsize * math.prod(self.shape))
        object.__setattr__(self, "shape_list", list(self.shape))
        object.__setattr__(self, "is_float", dt.kind == "f")


@dataclass(frozen=True)
class Schema:
    type: str
    arrays: dict[str, ArraySpec] = field(default_factory=dict)
    fields: dict[str, type | tuple[type, ...]] = field(default_factory=dict)
    required_fields: frozenset[str] = frozenset()  # scalar fields a message of this type must carry
    required: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", frozenset(n for n, s in self.arrays.items() if not s.optional))


@dataclass(slots=True)
class Message:
    type: str
    seq: int = 0
    stamp_ns: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


_SCHEMAS: dict[str, Schema] = {}


class _Template:
    """The exact header bytes of a field-less, one-array message, but for its seq and stamp.

    Such messages (tactile frames, arm servo targets) are the bus's hottest: they are
    encoded by filling in the template and decoded by matching it byte for byte,
    which is several times cheaper than a msgpack round trip. The bytes are plain
    msgpack (seq and stamp as fixed-width uint64), so the generic decoder reads
    them too, and anything that does not match the template exactly, byte for byte
    and length for length, goes through the generic, fully validating path.
    """

    def __init__(self, schema: Schema) -> None:
        ((name, spec),) = schema.arrays.items()
        self.schema, self.name, self.spec = schema, name, spec
        self.head = (
            b"\x86\xa1v" + msgpack.packb(SCHEMA_VERSION) + b"\xa1t" + msgpack.packb(schema.type) + b"\xa3seq\xcf"
        )
        self.mid = b"\xa2ns\xcf"
        descr = msgpack.packb([name, spec.dtype, spec.shape_list])  # 0x93 + 3 items
        self.tail = b"\xa1f\x80\xa1a\x91\x94" + descr[1:] + b"\xc6" + struct.pack(">I", spec.nbytes)
        self.size = len(self.head) + 8 + len(self.mid) + 8 + len(self.tail) + spec.nbytes
        # offsets from the start of the header: seq, stamp, array bytes; and the array's element count
        self.at_seq = len(self.head)
        self.at_stamp = self.at_seq + 8 + len(self.mid)
        self.at_data = self.at_stamp + 8 + len(self.tail)
        self.count = spec.nbytes // spec.np_dtype.itemsize

    def encode(self, topic: bytes, seq: int, stamp_ns: int, arr: np.ndarray) -> bytes:
        return b"".join((topic, TOPIC_END, self.head, _U64.pack(seq), self.mid, _U64.pack(stamp_ns), self.tail,
                         memoryview(arr)))  # fmt: skip

    def decode(self, first: bytes, start: int) -> Message | None:
        """The message if `first[start:]` is exactly this template filled in, else None."""
        if len(first) - start != self.size or not first.startswith(self.head, start):
            return None
        i, j = start + self.at_seq, start + self.at_stamp
        if not first.startswith(self.mid, i + 8) or not first.startswith(self.tail, j + 8):  # no slice copies
            return None
        flat = np.frombuffer(first, self.spec.np_dtype, self.count, start + self.at_data)
        if self.spec.is_float and not math.isfinite(flat.dot(self.spec.zeros)):
            raise CodecError(f"{self.schema.type}.{self.name}: contains NaN or inf")
        (seq,), (stamp,) = _U64.unpack_from(first, i), _U64.unpack_from(first, j)
        return Message(self.schema.type, seq, stamp, {}, {self.name: flat.reshape(self.spec.shape)})


_TEMPLATES: dict[str, _Template] = {}
_U64 = struct.Struct(">Q")


def register(schema: Schema) -> Schema:
    if schema.type in _SCHEMAS and _SCHEMAS[schema.type] != schema:
        raise ValueError(f"message type {schema.type!r} registered twice with different schemas")
    _SCHEMAS[schema.type] = schema
    if not schema.fields and len(schema.arrays) == 1 and not next(iter(schema.arrays.values())).optional:
        _TEMPLATES[schema.type] = _Template(schema)
    return schema


def schema_of(type_name: str) -> Schema:
    try:
        return _SCHEMAS[type_name]
    except KeyError:
        raise CodecError(f"unknown message type {type_name!r}; known: {sorted(_SCHEMAS)}") from None


def encode(topic: bytes, msg: Message, inline_max_bytes: int = INLINE_MAX_BYTES) -> list[Any]:
    """Frames for `socket.send_multipart`; validates on the way out too."""
    template = _TEMPLATES.get(msg.type)
    if template is not None and not msg.fields and 0 <= msg.seq < 2**64 and 0 <= msg.stamp_ns < 2**64:
        arr = msg.arrays.get(template.name)
        if arr is not None and template.spec.nbytes <= inline_max_bytes and len(msg.arrays) == 1:
            arr = np.ascontiguousarray(arr, dtype=template.spec.np_dtype)
            if arr.shape != template.spec.shape:
                raise CodecError(f"{msg.type}.{template.name}: shape {arr.shape}, schema says {template.spec.shape}")
            return [template.encode(topic, msg.seq, msg.stamp_ns, arr)]
    schema = schema_of(msg.type)
    if msg.seq < 0 or msg.stamp_ns < 0:
        raise CodecError(f"{msg.type}: seq and ns must be non-negative integers")
    descr: list[list[Any]] = []
    frames: list[Any] = []
    for name, spec in schema.arrays.items():
        arr = msg.arrays.get(name)
        if arr is None:
            if not spec.optional:
                raise CodecError(f"{msg.type}: array {name!r} is required")
            continue
        arr = np.ascontiguousarray(arr, dtype=spec.np_dtype)
        if arr.shape != spec.shape:
            raise CodecError(f"{msg.type}.{name}: shape {arr.shape}, schema says {spec.shape}")
        raw = memoryview(arr)  # msgpack packs any contiguous buffer as bin; zmq sends it as bytes
        if arr.nbytes <= inline_max_bytes:
            descr.append([name, spec.dtype, spec.shape_list, raw])
        else:
            descr.append([name, spec.dtype, spec.shape_list])
            frames.append(raw)
    if msg.fields:
        _check_fields(schema, msg.fields)
    packer = getattr(_LOCAL, "packer", None)
    if packer is None:
        packer = _LOCAL.packer = msgpack.Packer(use_bin_type=True)
    header = packer.pack(
        {"v": SCHEMA_VERSION, "t": msg.type, "seq": msg.seq, "ns": msg.stamp_ns, "f": msg.fields, "a": descr}
    )
    return [b"".join((topic, TOPIC_END, header)), *frames]


def decode(frames: list[Any]) -> tuple[bytes, Message]:
    """Validate and decode `[topic NUL header, *large arrays]`; raise CodecError on anything off."""
    if not frames:
        raise CodecError("empty message")
    if len(frames) == 1 and type(frames[0]) is bytes:  # the common case: one frame, nothing to gather
        first, extra = frames[0], []
        total = len(first)
    else:  # bytes from recv(copy=True) or zmq.Frame from copy=False
        bufs = [f if isinstance(f, bytes) else f.bytes for f in frames]
        first, extra = bufs[0], bufs[1:]
        total = sum(map(len, bufs))
    if total > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {total} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    split = first.find(TOPIC_END)
    if split < 0:
        raise CodecError("first frame has no topic terminator (NUL)")
    topic = first[:split]
    if not extra:
        for template in _TEMPLATES.values():
            fast = template.decode(first, split + 1)
            if fast is not None:
                return topic, fast
    header = _unpack_header(memoryview(first)[split + 1 :])
    type_name = header.get("t")
    if not isinstance(type_name, str):
        raise CodecError("header field 't' (message type) must be a string")
    schema = _SCHEMAS.get(type_name) or schema_of(type_name)
    seq, stamp, fields, descr = header.get("seq"), header.get("ns"), header.get("f"), header.get("a")
    if type(seq) is not int or type(stamp) is not int or seq < 0 or stamp < 0:  # not bool either
        raise CodecError(f"{type_name}: seq and ns must be non-negative integers")
    if not isinstance(fields, dict) or not isinstance(descr, list):
        raise CodecError(f"{type_name}: header needs a map 'f' and a list 'a'")
    if fields:
        _check_fields(schema, fields)
    if schema.required_fields and not schema.required_fields.issubset(fields):
        raise CodecError(f"{type_name}: missing required fields {sorted(schema.required_fields - set(fields))}")
    separate = iter(extra)
    arrays: dict[str, np.ndarray] = {}
    for entry in descr:
        if isinstance(entry, list) and len(entry) == 4:
            data = entry.pop()  # inline bytes
        else:
            data = next(separate, None)
            if data is None:
                raise CodecError(f"{type_name}: header lists more array frames than the message carries")
        name, arr = _decode_array(schema, entry, data)
        if name in arrays:
            raise CodecError(f"{type_name}: array {name!r} sent twice")
        arrays[name] = arr
    if next(separate, None) is not None:
        raise CodecError(f"{type_name}: the message carries array frames its header does not list")
    if not schema.required.issubset(arrays):
        raise CodecError(f"{type_name}: missing required arrays {sorted(schema.required - set(arrays))}")
    return topic, Message(type_name, seq, stamp, fields, arrays)


def _unpack_header(buf: memoryview) -> dict[str, Any]:
    size = buf.nbytes
    if size > MAX_HEADER_BYTES:
        raise CodecError(f"header of {size} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(buf, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise CodecError(f"header is not valid msgpack: {exc}") from None
    if not isinstance(header, dict):
        raise CodecError("header must be a msgpack map")
    v = header.get("v")
    if type(v) is not int or v != SCHEMA_VERSION:  # 1.0 and true equal 1 in Python: the wire says exactly 1
        raise CodecError(f"schema version {v!r}, this SDK speaks {SCHEMA_VERSION} (an integer)")
    return header


def _decode_array(schema: Schema, entry: Any, buf: Any) -> tuple[str, np.ndarray]:
    if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)):
        raise CodecError(f"{schema.type}: array descriptor must be [name, dtype, shape], got {entry!r}")
    name, dtype, shape = entry
    spec = schema.arrays.get(name)
    if spec is None:
        raise CodecError(f"{schema.type}: unknown array {name!r}; expected {list(schema.arrays)}")
    if dtype != spec.dtype or shape != spec.shape_list:
        raise CodecError(
            f"{schema.type}.{name}: got dtype {dtype!r} shape {shape!r}, schema says {spec.dtype} {spec.shape}"
        )
    if not isinstance(buf, bytes):
        raise CodecError(f"{schema.type}.{name}: inline array data must be msgpack bin")
    size = len(buf)
    if size != spec.nbytes:
        raise CodecError(f"{schema.type}.{name}: {size} bytes, expected {spec.nbytes}")
    flat = np.frombuffer(buf, spec.np_dtype)  # a view: no copy
    # x . 0 is NaN exactly when some element is NaN or inf, and cannot overflow: one BLAS call,
    # several times cheaper than isfinite(...).all() on the hot path (tactile frames).
    if spec.is_float and not math.isfinite(flat.dot(spec.zeros)):
        raise CodecError(f"{schema.type}.{name}: contains NaN or inf")
    return name, flat.reshape(spec.shape)


def _check_fields(schema: Schema, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        expected = schema.fields.get(key)
        if expected is None:
            raise CodecError(f"{schema.type}: unknown field {key!r}; expected {list(schema.fields)}")
        if isinstance(value, bool) and expected is not bool and bool not in _as_tuple(expected):
            raise CodecError(f"{schema.type}.{key}: bool where {expected} expected")
        if not isinstance(value, expected):
            raise CodecError(f"{schema.type}.{key}: {type(value).__name__} where {expected} expected")
        if isinstance(value, float) and not np.isfinite(value):
            raise CodecError(f"{schema.type}.{key}: {value} is not finite")


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)
