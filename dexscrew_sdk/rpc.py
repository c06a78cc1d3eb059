"""The declared schema of every lifecycle call (RPC): argument names, types, shapes and ranges.

The node checks a request against its method's schema before any handler runs
and hands the handler one typed `Call`; the proxies check the same schema
before sending, so a bad argument fails in the caller, named, before anything
moves. The tables are built once at import: checking is a few dict look-ups
and isinstance tests per argument, no reflection per message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dexscrew_sdk.errors import CodecError, CommandRejected
from dexscrew_sdk.interfaces import (
    MAX_MOVE_SPEED_RAD_S,
    MAX_MOVE_TIMEOUT_S,
    MIN_MOVE_SPEED_RAD_S,
    Arm,
    Device,
    World,
    _Actuated,
)

MAX_NAME_CHARS = 64
MAX_TICK_PERIODS = 100_000
MAX_WORLDS = 8  # World devices one node may report in a tick reply
_NUMBER = (int, float)


@dataclass(frozen=True)
class Arg:
    """One argument: `kind` is one of "float", "int", "str", "vector", "seq_map", "table"."""

    kind: str
    required: bool = False
    default: Any = None
    lo: float = -math.inf
    hi: float = math.inf
    size: int = 0  # vectors: exact length
    max_items: int = 64  # strings (characters), vectors, maps

    def check(self, value: Any, what: str) -> Any:
        kind = self.kind
        if kind == "float" or kind == "int":
            if type(value) is bool or not isinstance(value, _NUMBER) or (kind == "int" and type(value) is not int):
                raise CommandRejected(f"{what} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
            if not (self.lo <= value <= self.hi):  # NaN fails too
                raise CommandRejected(f"{what} must be in [{self.lo:g}, {self.hi:g}], got {value!r}")
            return float(value) if kind == "float" else value
        if kind == "str":
            if type(value) is not str or len(value) > self.max_items:
                raise CommandRejected(f"{what} must be a string of at most {self.max_items} characters, got {value!r}")
            return value
        if kind == "vector":
            if type(value) is not list or len(value) != self.size:
                raise CommandRejected(f"{what} must be a list of {self.size} numbers, got {_short(value)}")
            for i, x in enumerate(value):
                if type(x) is bool or not isinstance(x, _NUMBER) or not math.isfinite(x):
                    raise CommandRejected(f"{what}[{i}] must be a finite number, got {x!r}")
            return value
        if kind == "seq_map":  # {device: command seq}
            if type(value) is not dict or len(value) > self.max_items:
                raise CommandRejected(f"{what} must be a map of device -> seq, got {_short(value)}")
            for k, v in value.items():
                if type(k) is not str or type(v) is not int or not 0 <= v < 2**63:
                    raise CommandRejected(f"{what}: {k!r} -> {v!r} is not device -> non-negative integer seq")
            return value
        if kind == "table":
            if type(value) is not dict:
                raise CommandRejected(f"{what} must be a map, got {_short(value)}")
            return value
        raise AssertionError(f"unknown argument kind {kind}")


@dataclass(frozen=True)
class Method:
    """`kinds`: the device classes the call applies to; () means a node-level call with no device."""

    name: str
    kinds: tuple[type[Device], ...] = ()
    args: dict[str, Arg] = field(default_factory=dict)

    def check_args(self, args: Any) -> dict[str, Any]:
        """Validated arguments with defaults filled in, or CommandRejected naming the argument."""
        if type(args) is not dict:
            raise CommandRejected(f"{self.name}: args must be a map, got {_short(args)}")
        unknown = [k for k in args if k not in self.args]
        if unknown:
            raise CommandRejected(f"{self.name}: unknown arguments {unknown!r}; valid: {sorted(self.args)}")
        out: dict[str, Any] = {}
        for name, spec in self.args.items():
            if name in args:
                out[name] = spec.check(args[name], f"{self.name}: {name}")
            elif spec.required:
                raise CommandRejected(f"{self.name}: missing argument {name!r}")
            else:
                out[name] = spec.default
        return out


@dataclass(slots=True)
class Call:
    """One checked request, as a handler receives it."""

    method: str
    device_name: str
    device: Any  # an instance of one of the method's kinds, or None for node-level calls
    args: dict[str, Any]
    identity: bytes
    request_id: int


_ACTUATED: tuple[type[Device], ...] = (_Actuated,)  # arms and hands; the hand's streaming command is a message
_KIND_NAMES: dict[type, tuple[str, ...]] = {_Actuated: ("arm", "hand"), Device: ("any",)}

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ping"),
        Method("stats"),
        Method("info", (Device,)),
        Method("stop", _ACTUATED),
        Method("emergency_stop", _ACTUATED),
        Method("release_emergency_stop", _ACTUATED),
        Method(
            "move_to",
            (Arm,),
            {
                "q_rad": Arg("vector", required=True, size=6),
                "speed_rad_s": Arg("float", default=1.05, lo=MIN_MOVE_SPEED_RAD_S, hi=MAX_MOVE_SPEED_RAD_S),
                "timeout_s": Arg("float", default=30.0, lo=1e-3, hi=MAX_MOVE_TIMEOUT_S),
            },
        ),
        Method(
            "tick",
            (),
            {"periods": Arg("int", default=1, lo=1, hi=MAX_TICK_PERIODS), "after": Arg("seq_map", default={})},
        ),
        Method(
            "reset",
            (World,),
            {
                "task": Arg("str", required=True),
                "shape": Arg("str", required=True),
                "seed": Arg("int", default=0, lo=0, hi=2**32 - 1),
                "randomisation": Arg("table", default={}),
            },
        ),
        Method("perturb", (World,), {"kind": Arg("str", required=True)}),
        Method("progress", (World,)),
    )
}


# The World's progress as it travels in a `progress` reply and in a lockstep `tick` reply.
PROGRESS_FIELDS: dict[str, type] = {"turns_done": float, "turns_required": float, "fastened": bool,
                                    "time_s": float, "task": str, "shape": str, "stalled": bool,
                                    "unseated": bool, "seat_torque_nm": float, "object_pose": list}  # fmt: skip
OBJECT_POSE_SIZES = (0, 6)  # not reported, or x, y, z [m] + rotation vector [rad]


def check_progress(value: Any, what: str = "progress") -> dict[str, Any]:
    """A progress result field by field (exact types, finite numbers), or CodecError naming the field."""
    if type(value) is not dict or set(value) != set(PROGRESS_FIELDS):
        keys = sorted(value) if type(value) is dict else _short(value)
        raise CodecError(f"{what}: expected the fields {sorted(PROGRESS_FIELDS)}, got {keys}")
    for name, kind in PROGRESS_FIELDS.items():
        v = value[name]
        if type(v) is not kind or (kind is float and not math.isfinite(v)):
            raise CodecError(f"{what}: {name} must be a {'finite ' if kind is float else ''}{kind.__name__}, got {v!r}")
    pose = value["object_pose"]
    if len(pose) not in OBJECT_POSE_SIZES or any(type(x) is not float or not math.isfinite(x) for x in pose):
        raise CodecError(f"{what}: object_pose must be 0 or 6 finite floats, got {_short(pose)}")
    return value


def check_tick_result(value: Any) -> tuple[float, dict[str, dict[str, Any]]]:
    """A `tick` result: {"sim_time_s": float >= 0, "progress": {world device: progress}}."""
    if type(value) is not dict or set(value) != {"sim_time_s", "progress"}:
        raise CodecError(f"tick: expected the fields ['progress', 'sim_time_s'], got {_short(value)}")
    t = value["sim_time_s"]
    if type(t) is not float or not (0.0 <= t < math.inf):
        raise CodecError(f"tick: sim_time_s must be a finite float >= 0, got {t!r}")
    progress = value["progress"]
    if type(progress) is not dict or len(progress) > MAX_WORLDS:
        raise CodecError(f"tick: progress must be a map of at most {MAX_WORLDS} worlds, got {_short(progress)}")
    for name, p in progress.items():
        if type(name) is not str or len(name) > MAX_NAME_CHARS:
            raise CodecError(f"tick: progress key must be a device name, got {_short(name)}")
        check_progress(p, f"tick: progress[{name!r}]")
    return t, progress


def check_request(fields: dict[str, Any], devices: dict[str, Device]) -> tuple[Method, str, Any, dict[str, Any]]:
    """The method, device name, device and checked arguments of an `rpc_request`'s fields."""
    name = fields.get("method")
    method = METHODS.get(name) if type(name) is str else None
    if method is None:
        raise CommandRejected(f"unknown rpc method {_short(name)}; known: {sorted(METHODS)}")
    device_name = fields.get("device")
    if type(device_name) is not str:
        raise CommandRejected(f"{method.name}: device must be a string, got {_short(device_name)}")
    if "args" not in fields:
        raise CommandRejected(f"{method.name}: the request has no args map")
    args = method.check_args(fields["args"])
    device = None
    if method.kinds:
        device = devices.get(device_name)
        if not isinstance(device, method.kinds):
            kinds = sorted({n for k in method.kinds for n in _KIND_NAMES.get(k, (k.kind,))})
            raise CommandRejected(
                f"{method.name!r} needs a device of kind {kinds}; this node has {sorted(devices)}, "
                f"not {_short(device_name)}"
            )
    return method, device_name, device, args


def check_client_args(method: str, args: dict[str, Any]) -> dict[str, Any]:
    """What a proxy runs before sending: the same schema the node applies."""
    return METHODS[method].check_args(args)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
