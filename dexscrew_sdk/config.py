"""Cell configuration: TOML files naming the nodes of a cell, with command-line overrides.

A cell file has a ``[cell]`` table and one ``[nodes.<name>]`` table per node
process; see ``configs/*.toml``. Overrides are ``dotted.key=value`` strings whose
value is parsed as TOML (``nodes.cell.params.seed=3``, ``cell.lockstep=true``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from dexscrew_sdk.bus import CurveKeys, Endpoints
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import ur5e_limits, xhand_limits
from dexscrew_sdk.safety import JointLimits, Workspace

# Short factory names; any "package.module:function" works too. Resolved lazily so
# the core never imports drivers or twins at import time.
FACTORIES: dict[str, str] = {
    "reference": "dexscrew_sdk.reference:make_reference_cell",
    "twin": "twins.node:make_twin_cell",
    "ur5e": "drivers.ur5e:make_ur5e_node",
    "xhand": "drivers.xhand:make_xhand_node",
}
RESTART_POLICIES = ("never", "on-failure", "always")


@dataclass
class NodeSpec:
    name: str
    factory: str
    base_port: int
    serves: list[str]
    publish_hz: float = 100.0
    watchdog_s: float = 0.2
    restart: str = "on-failure"
    max_restarts: int = 5
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellConfig:
    name: str
    host: str
    lockstep: bool
    control_hz: float
    nodes: dict[str, NodeSpec]
    curve_dir: Path | None = None
    source: Path | None = None

    def endpoints(self, node: str) -> Endpoints:
        return Endpoints(self.host, self.nodes[node].base_port)

    def node_serving(self, device: str) -> NodeSpec:
        for spec in self.nodes.values():
            if device in spec.serves:
                return spec
        raise ConfigError(f"no node of cell {self.name!r} serves a device {device!r}")

    def node_curve(self, node: str) -> CurveKeys | None:
        if self.curve_dir is None:
            return None
        return CurveKeys(self.curve_dir / f"{node}.key_secret", authorized_clients_dir=self.curve_dir / "clients")

    def client_curve(self, node: str, client: str = "client") -> CurveKeys | None:
        if self.curve_dir is None:
            return None
        return CurveKeys(
            self.curve_dir / "clients" / f"{client}.key_secret", server_public_file=self.curve_dir / f"{node}.key"
        )


def load(path: str | Path, overrides: list[str] | None = None) -> CellConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for item in overrides or []:
        apply_override(raw, item)
    cfg = parse(raw, str(path))
    cfg.source = path
    return cfg


def apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} must look like dotted.key=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word is a string
    *parents, leaf = key.strip().split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {p!r} is not a table")
    node[leaf] = value


def parse(raw: dict[str, Any], where: str = "<config>") -> CellConfig:
    cell = _table(raw, "cell", where)
    nodes_raw = _table(raw, "nodes", where)
    if not nodes_raw:
        raise ConfigError(f"{where}: [nodes] is empty; a cell needs at least one node")
    nodes = {name: _node(name, _table(nodes_raw, name, where), where) for name in nodes_raw}
    ports = [n.base_port for n in nodes.values()]
    for n in nodes.values():
        if sum(abs(n.base_port - p) < 3 for p in ports) > 1:
            raise ConfigError(f"{where}: node {n.name!r} ports {n.base_port}..{n.base_port + 2} overlap another node's")
    served = [d for n in nodes.values() for d in n.serves]
    if len(served) != len(set(served)):
        raise ConfigError(f"{where}: a device is served by two nodes: {served}")
    curve = cell.get("curve_dir")
    cfg = CellConfig(
        name=str(cell.get("name", "cell")),
        host=str(cell.get("host", "127.0.0.1")),
        lockstep=_typed(cell, "lockstep", bool, False, where),
        control_hz=float(_typed(cell, "control_hz", (int, float), 20.0, where)),
        nodes=nodes,
        curve_dir=None if curve is None else Path(curve),
    )
    if cfg.control_hz <= 0:
        raise ConfigError(f"{where}: cell.control_hz must be positive")
    return cfg


def _node(name: str, t: dict[str, Any], where: str) -> NodeSpec:
    ctx = f"{where} [nodes.{name}]"
    factory = _typed(t, "factory", str, None, ctx)
    port = _typed(t, "base_port", int, None, ctx)
    if not 1024 <= port <= 65533:
        raise ConfigError(f"{ctx}: base_port {port} must be in [1024, 65533]")
    restart = _typed(t, "restart", str, "on-failure", ctx)
    if restart not in RESTART_POLICIES:
        raise ConfigError(f"{ctx}: restart {restart!r}; choose one of {RESTART_POLICIES}")
    spec = NodeSpec(
        name=name,
        factory=factory,
        base_port=port,
        serves=list(_typed(t, "serves", list, None, ctx)),
        publish_hz=float(_typed(t, "publish_hz", (int, float), 100.0, ctx)),
        watchdog_s=float(_typed(t, "watchdog_s", (int, float), 0.2, ctx)),
        restart=restart,
        max_restarts=_typed(t, "max_restarts", int, 5, ctx),
        params=dict(_typed(t, "params", dict, {}, ctx)),
    )
    if spec.publish_hz <= 0 or spec.watchdog_s <= 0:
        raise ConfigError(f"{ctx}: publish_hz and watchdog_s must be positive")
    return spec


def resolve_factory(name: str) -> Callable[[dict[str, Any]], Any]:
    target = FACTORIES.get(name, name)
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ConfigError(f"factory {name!r}: use one of {sorted(FACTORIES)} or 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"factory {name!r}: cannot import {module_name}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"factory {name!r}: {module_name} has no {attr!r}") from None


def limits_from_params(params: dict[str, Any] | None, kind: str) -> JointLimits:
    base = ur5e_limits() if kind == "arm" else xhand_limits()
    if not params:
        return base
    unknown = set(params) - {"lower_rad", "upper_rad", "max_speed_rad_s"}
    if unknown:
        raise ConfigError(f"{kind}_limits: unknown keys {sorted(unknown)}")
    try:
        return base.narrowed(params.get("lower_rad"), params.get("upper_rad"), params.get("max_speed_rad_s"))
    except ValueError as exc:
        raise ConfigError(f"{kind}_limits: {exc}") from None


def workspace_from_params(params: dict[str, Any] | None) -> Workspace | None:
    if params is None:
        return None
    try:
        return Workspace(tuple(params["min_xyz_m"]), tuple(params["max_xyz_m"]))  # type: ignore[arg-type]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"workspace needs min_xyz_m and max_xyz_m (3 values each): {exc}") from None


def cell_limits_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """A simulated cell's `arm_limits`, `hand_limits` and `workspace` keyword arguments from node parameters."""
    return {
        "arm_limits": limits_from_params(params.get("arm_limits"), "arm"),
        "hand_limits": limits_from_params(params.get("hand_limits"), "hand"),
        "workspace": workspace_from_params(params.get("workspace")),
    }


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _typed(t: dict[str, Any], key: str, kind: Any, default: Any, where: str) -> Any:
    if key not in t:
        if default is None:
            raise ConfigError(f"{where}: missing required key {key!r}")
        return default
    value = t[key]
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: {key} must be {kind}, got a bool")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: {key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value
