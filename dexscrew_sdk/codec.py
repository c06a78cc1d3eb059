"""Wire format of every bus message: msgpack header + raw array frames. Never pickle.

A message travels as ZeroMQ multipart frames::

    [topic, header, array_0, array_1, ...]

`header` is a msgpack map ``{"v": schema version, "t": type, "seq", "ns": stamp,
"f": {scalar fields}, "a": [[name, dtype, shape], ...]}`` and each array frame is
the array's raw C-order bytes, sent without copying and viewed without copying on
receipt. `decode` validates everything against the registered schema of the type:
version, known type, field names and types, array names, dtypes, shapes, byte
counts, finite floats and a total size limit. Anything else raises `CodecError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from dexscrew_sdk.errors import CodecError

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: a tactile frame is 7.2 kB
MAX_HEADER_BYTES = 1 << 16
# Below this size copying into a zmq message is cheaper than pinning the buffer
# (pyzmq's own guidance); tactile frames are smaller, so they are copied.
ZERO_COPY_THRESHOLD_BYTES = 1 << 16


@dataclass(frozen=True)
class ArraySpec:
    dtype: str  # numpy dtype string, little-endian: "<f8", "<f4"
    shape: tuple[int, ...]
    optional: bool = False

    @property
    def nbytes(self) -> int:
        return int(np.dtype(self.dtype).itemsize * np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Schema:
    type: str
    arrays: dict[str, ArraySpec] = field(default_factory=dict)
    fields: dict[str, type | tuple[type, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class Message:
    type: str
    seq: int = 0
    stamp_ns: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


_SCHEMAS: dict[str, Schema] = {}


def register(schema: Schema) -> Schema:
    if schema.type in _SCHEMAS and _SCHEMAS[schema.type] != schema:
        raise ValueError(f"message type {schema.type!r} registered twice with different schemas")
    _SCHEMAS[schema.type] = schema
    return schema


def schema_of(type_name: str) -> Schema:
    try:
        return _SCHEMAS[type_name]
    except KeyError:
        raise CodecError(f"unknown message type {type_name!r}; known: {sorted(_SCHEMAS)}") from None


def encode(topic: bytes, msg: Message) -> list[Any]:
    """Frames for `socket.send_multipart(frames, copy=False)`; validates on the way out too."""
    schema = schema_of(msg.type)
    descr: list[list[Any]] = []
    buffers: list[Any] = []
    for name, spec in schema.arrays.items():
        arr = msg.arrays.get(name)
        if arr is None:
            if not spec.optional:
                raise CodecError(f"{msg.type}: array {name!r} is required")
            continue
        arr = np.ascontiguousarray(arr, dtype=spec.dtype)
        if arr.shape != spec.shape:
            raise CodecError(f"{msg.type}.{name}: shape {arr.shape}, schema says {spec.shape}")
        descr.append([name, spec.dtype, list(spec.shape)])
        buffers.append(memoryview(arr).cast("B") if arr.nbytes >= ZERO_COPY_THRESHOLD_BYTES else arr.tobytes())
    _check_fields(schema, msg.fields)
    header = msgpack.packb(
        {"v": SCHEMA_VERSION, "t": msg.type, "seq": msg.seq, "ns": msg.stamp_ns, "f": msg.fields, "a": descr},
        use_bin_type=True,
    )
    return [topic, header, *buffers]


def decode(frames: list[Any]) -> tuple[bytes, Message]:
    """Validate and decode `[topic, header, *arrays]`; raise CodecError on anything off."""
    if len(frames) < 2:
        raise CodecError(f"message has {len(frames)} frame(s); need topic and header")
    views = [f.buffer if hasattr(f, "buffer") else memoryview(f) for f in frames]
    total = sum(v.nbytes for v in views)
    if total > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {total} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    if views[1].nbytes > MAX_HEADER_BYTES:
        raise CodecError(f"header of {views[1].nbytes} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(views[1], raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise CodecError(f"header is not valid msgpack: {exc}") from None
    if not isinstance(header, dict):
        raise CodecError("header must be a msgpack map")
    version = header.get("v")
    if version != SCHEMA_VERSION:
        raise CodecError(f"schema version {version!r}, this SDK speaks {SCHEMA_VERSION}")
    type_name = header.get("t")
    if not isinstance(type_name, str):
        raise CodecError("header field 't' (message type) must be a string")
    schema = schema_of(type_name)
    seq, stamp, fields, descr = header.get("seq"), header.get("ns"), header.get("f"), header.get("a")
    if not _is_int(seq) or not _is_int(stamp):
        raise CodecError(f"{type_name}: seq and ns must be integers")
    if not isinstance(fields, dict) or not isinstance(descr, list):
        raise CodecError(f"{type_name}: header needs a map 'f' and a list 'a'")
    _check_fields(schema, fields)
    if len(descr) != len(views) - 2:
        raise CodecError(f"{type_name}: header lists {len(descr)} arrays, message carries {len(views) - 2}")
    arrays: dict[str, np.ndarray] = {}
    for entry, view in zip(descr, views[2:], strict=True):
        name, arr = _decode_array(schema, entry, view)
        if name in arrays:
            raise CodecError(f"{type_name}: array {name!r} sent twice")
        arrays[name] = arr
    missing = [n for n, s in schema.arrays.items() if not s.optional and n not in arrays]
    if missing:
        raise CodecError(f"{type_name}: missing required arrays {missing}")
    topic = bytes(views[0])
    return topic, Message(type_name, seq, stamp, fields, arrays)


def _decode_array(schema: Schema, entry: Any, view: memoryview) -> tuple[str, np.ndarray]:
    if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)):
        raise CodecError(f"{schema.type}: array descriptor must be [name, dtype, shape], got {entry!r}")
    name, dtype, shape = entry
    spec = schema.arrays.get(name)
    if spec is None:
        raise CodecError(f"{schema.type}: unknown array {name!r}; expected {list(schema.arrays)}")
    if dtype != spec.dtype or not isinstance(shape, list) or tuple(shape) != spec.shape:
        raise CodecError(
            f"{schema.type}.{name}: got dtype {dtype!r} shape {shape!r}, schema says {spec.dtype} {spec.shape}"
        )
    if view.nbytes != spec.nbytes:
        raise CodecError(f"{schema.type}.{name}: {view.nbytes} bytes, expected {spec.nbytes}")
    arr = np.frombuffer(view, dtype=spec.dtype).reshape(spec.shape)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise CodecError(f"{schema.type}.{name}: contains NaN or inf")
    return name, arr


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


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
