"""Typed factory parameters: a node factory is ``def make(params: P, ctx: NodeContext) -> Hosted``.

`P` is a dataclass. `load(P, table, path)` builds it from a TOML table by
reading the dataclass's annotations: an unknown key, a missing required key or
a value of the wrong type is a `ConfigError` naming the key's dotted path (and,
for unknown keys, the valid ones). Nested dataclasses, ``X | None``,
``list[X]``, ``tuple[X, ...]``, ``dict[str, X]`` and ``Literal[...]`` are
understood; an int is accepted where a float is wanted, a bool never is a
number. A dataclass may check ranges in ``__post_init__`` by raising
`ConfigError` or `ValueError`; the loader prefixes the dotted path.

Framework values (the devices a node serves, lockstep, the control rate) are not
factory parameters: they arrive in `NodeContext`, so a factory's table holds
only what its own dataclass declares.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.safety import JointLimits, Workspace

FACTORY_RULE = (
    "a node factory must be `def make(params: P, ctx: NodeContext) -> Hosted` with P a dataclass (dexscrew_sdk.params)"
)


@dataclass(frozen=True)
class NodeContext:
    """What the framework, not the factory's table, tells a factory."""

    node: str
    devices: tuple[str, ...]
    lockstep: bool
    control_hz: float


@dataclass
class JointLimitParams:
    """`[nodes.N.params.arm_limits]` / `hand_limits`: may only tighten the hardware's own limits."""

    lower_rad: list[float] | None = None
    upper_rad: list[float] | None = None
    max_speed_rad_s: list[float] | None = None

    def narrow(self, base: JointLimits) -> JointLimits:
        try:
            return base.narrowed(self.lower_rad, self.upper_rad, self.max_speed_rad_s)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


@dataclass
class WorkspaceParams:
    """`[nodes.N.params.workspace]`: a TCP box in the base frame."""

    min_xyz_m: list[float]
    max_xyz_m: list[float]

    def __post_init__(self) -> None:
        if len(self.min_xyz_m) != 3 or len(self.max_xyz_m) != 3:
            raise ConfigError("min_xyz_m and max_xyz_m need 3 values each")

    def build(self) -> Workspace:
        try:
            return Workspace(tuple(self.min_xyz_m), tuple(self.max_xyz_m))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigError(f"workspace: {exc}") from None


def load(cls: type[Any], table: Any, path: str) -> Any:
    """An instance of dataclass `cls` from a TOML table; ConfigError naming the dotted path otherwise."""
    return _convert(cls, table, path)


def params_type(factory: Callable[..., Any], name: str) -> type[Any]:
    """The parameter dataclass a factory declares, or a ConfigError stating the rule."""
    try:
        sig = inspect.signature(factory)
        hints = typing.get_type_hints(factory)
    except (TypeError, ValueError, NameError) as exc:
        raise ConfigError(f"factory {name!r}: cannot read its signature ({exc}); {FACTORY_RULE}") from None
    positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2 or len(sig.parameters) != 2:
        raise ConfigError(f"factory {name!r} takes {list(sig.parameters)}; {FACTORY_RULE}")
    cls = hints.get(positional[0].name)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ConfigError(
            f"factory {name!r}: its first parameter is annotated {cls!r}, not a dataclass; {FACTORY_RULE}"
        )
    return cls


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} matches none of {_name(tp)}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
            raise ConfigError(f"{path}: {value!r}; choose one of {list(choices)}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigError(f"{path} must have {len(args)} entries, got {len(value)}")
            return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
        item = args[0] if args else Any
        out = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a table, got {value!r}")
        _, item = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(item, v, f"{path}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if type(value) is not tp:
            raise ConfigError(f"{path} must be {'a string' if tp is str else 'true or false'}, got {value!r}")
        return value
    raise ConfigError(f"{path}: parameter type {_name(tp)} is not supported by the loader")


def _dataclass(cls: type[Any], value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{path} must be a table, got {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {unknown}; valid keys: {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{path}.{name}"
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}: missing required key {name!r}")
    try:
        return cls(**kwargs)
    except (ConfigError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)
