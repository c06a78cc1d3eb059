"""Cell configuration: TOML files naming the nodes of a cell, with command-line overrides.

A cell file has a ``[cell]`` table and one ``[nodes.<name>]`` table per node
process; see the shipped configurations (`dexscrew_sdk.configs`). Overrides are
``dotted.key=value`` strings whose value is parsed as TOML
(``nodes.cell.params.seed=3``, ``cell.lockstep=true``).

Nothing is ignored: an unknown key anywhere (a table, a node, a factory's
parameters, an override) is an error naming its dotted path and the valid keys,
and every value is type-checked by the one loader in `dexscrew_sdk.params`.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomllib

from dexscrew_sdk import params as params_mod
from dexscrew_sdk import resources
from dexscrew_sdk.bus import CurveKeys, Endpoints
from dexscrew_sdk.clock import CONTROL_HZ
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.params import FACTORY_RULE, JointLimitParams, NodeContext, WorkspaceParams

# Short factory names; any "package.module:function" works too. Resolved lazily so
# the core never imports drivers or twins at import time.
FACTORIES: dict[str, str] = {
    "reference": "dexscrew_sdk.reference:make_reference_cell",
    "twin": "twins.node:make_twin_cell",
    "ur5e": "drivers.ur5e:make_ur5e_node",
    "xhand": "drivers.xhand:make_xhand_node",
}
Restart = Literal["never", "on-failure", "always"]  # the launcher's restart policies


@dataclass
class CellTable:
    """`[cell]`."""

    name: str = "cell"
    host: str = "127.0.0.1"
    lockstep: bool = False
    control_hz: float = CONTROL_HZ
    curve_dir: str | None = None  # `dexscrew keygen DIR`: DIR/node for nodes, DIR/client for clients
    insecure: bool = False  # allow a non-loopback host without CURVE (a warning is logged)

    def __post_init__(self) -> None:
        if not 0 < self.control_hz <= 1000:
            raise ConfigError(f"control_hz must be in (0, 1000], got {self.control_hz}")
        if not self.host:
            raise ConfigError("host must not be empty")


@dataclass
class NodeSpec:
    """`[nodes.<name>]`: the node's process and bus settings; `params` is the factory's own table."""

    factory: str
    base_port: int
    serves: list[str]
    publish_hz: float = 100.0
    watchdog_s: float = 0.2
    restart: Restart = "on-failure"
    max_restarts: int = 5
    params: dict[str, Any] = field(default_factory=dict)
    name: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if not 1024 <= self.base_port <= 65533:
            raise ConfigError(f"base_port {self.base_port} must be in [1024, 65533]")
        if not self.serves:
            raise ConfigError("serves must name at least one device")
        if len(set(self.serves)) != len(self.serves) or not all(s.isidentifier() for s in self.serves):
            raise ConfigError(f"serves {self.serves}: device names must be distinct identifiers")
        if not 0 < self.publish_hz <= 10_000:
            raise ConfigError(f"publish_hz must be in (0, 10000], got {self.publish_hz}")
        if not 0 < self.watchdog_s <= 60:
            raise ConfigError(f"watchdog_s must be in (0, 60], got {self.watchdog_s}")
        if not 0 <= self.max_restarts <= 1000:
            raise ConfigError(f"max_restarts must be in [0, 1000], got {self.max_restarts}")


@dataclass
class CellConfig:
    name: str
    host: str
    lockstep: bool
    control_hz: float
    nodes: dict[str, NodeSpec]
    curve_dir: Path | None = None
    insecure: bool = False
    source: Path | None = None

    def endpoints(self, node: str) -> Endpoints:
        return Endpoints(self.host, self.nodes[node].base_port)

    def node_serving(self, device: str) -> NodeSpec:
        for spec in self.nodes.values():
            if device in spec.serves:
                return spec
        raise ConfigError(f"no node of cell {self.name!r} serves a device {device!r}")

    def node_curve(self, node: str) -> CurveKeys | None:
        """A node's keys: its own secret and the authorised clients' public keys (DIR/node)."""
        if self.curve_dir is None:
            return None
        d = self.curve_dir / "node"
        return CurveKeys(d / f"{node}.key_secret", authorized_clients_dir=d / "clients")

    def client_curve(self, node: str, client: str = "client") -> CurveKeys | None:
        """A client's keys: its own secret and the node's public key (DIR/client, 0700)."""
        if self.curve_dir is None:
            return None
        d = self.curve_dir / "client"
        return CurveKeys(d / f"{client}.key_secret", server_public_file=d / f"{node}.key")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or an interface ("*", "eth0"): treat as a network address


def load(path: str | Path, overrides: list[str] | None = None) -> CellConfig:
    """A configuration file, or the bare name of a shipped one (`twin_cell`), with overrides applied."""
    path = resources.config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration {path} is a directory; give a .toml file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"configuration {path} is not a text (UTF-8 TOML) file") from None
    except OSError as exc:
        raise ConfigError(f"configuration {path} cannot be read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
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
    top = sorted(set(raw) - {"cell", "nodes"})
    if top:
        raise ConfigError(f"{where}: unknown top-level keys {top}; valid keys: ['cell', 'nodes']")
    try:
        cell = params_mod.load(CellTable, raw.get("cell", {}), "cell")
        nodes_raw = raw.get("nodes", {})
        if not isinstance(nodes_raw, dict):
            raise ConfigError(f"nodes must be a table of [nodes.<name>] tables, got {nodes_raw!r}")
        nodes: dict[str, NodeSpec] = {}
        for name, table in nodes_raw.items():
            spec = params_mod.load(NodeSpec, table, f"nodes.{name}")
            spec.name = name
            nodes[name] = spec
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not nodes:
        raise ConfigError(f"{where}: [nodes] is empty; a cell needs at least one node")
    ports = [n.base_port for n in nodes.values()]
    for n in nodes.values():
        if sum(abs(n.base_port - p) < 3 for p in ports) > 1:
            raise ConfigError(f"{where}: node {n.name!r} ports {n.base_port}..{n.base_port + 2} overlap another node's")
    served = [d for n in nodes.values() for d in n.serves]
    if len(served) != len(set(served)):
        raise ConfigError(f"{where}: a device is served by two nodes: {served}")
    return CellConfig(
        name=cell.name,
        host=cell.host,
        lockstep=cell.lockstep,
        control_hz=cell.control_hz,
        nodes=nodes,
        curve_dir=None if cell.curve_dir is None else Path(cell.curve_dir),
        insecure=cell.insecure,
    )


@dataclass(frozen=True)
class Factory:
    """A resolved node factory and the parameter dataclass it declares."""

    name: str
    make: Callable[[Any, NodeContext], Any]
    params_type: type[Any]


def resolve_factory(name: str) -> Factory:
    target = FACTORIES.get(name, name)
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ConfigError(f"factory {name!r}: use one of {sorted(FACTORIES)} or 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"factory {name!r}: cannot import {module_name}: {exc}") from None
    try:
        fn = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"factory {name!r}: {module_name} has no {attr!r}") from None
    if not callable(fn):
        raise ConfigError(f"factory {name!r} is not a function; {FACTORY_RULE}")
    return Factory(name, fn, params_mod.params_type(fn, name))


def node_params(cfg: CellConfig, node: str) -> tuple[Factory, Any]:
    """The factory of a node and its parameters, loaded and checked against the factory's dataclass."""
    spec = cfg.nodes[node]
    factory = resolve_factory(spec.factory)
    return factory, params_mod.load(factory.params_type, spec.params, f"nodes.{node}.params")


def make_hosted(factory_name: str, table: dict[str, Any], ctx: NodeContext, path: str = "params") -> Any:
    """Build a node's devices the one way: resolve the factory, load its parameters, call it."""
    factory = resolve_factory(factory_name)
    return factory.make(params_mod.load(factory.params_type, table, path), ctx)


def check_all(cfg: CellConfig) -> None:
    """Fail before anything starts if any node's parameters do not fit its factory."""
    for name in cfg.nodes:
        node_params(cfg, name)


@dataclass
class CellLimitParams:
    """The limit keys every simulated cell factory takes (the one spelling, also used by the drivers)."""

    arm_limits: JointLimitParams | None = None
    hand_limits: JointLimitParams | None = None
    workspace: WorkspaceParams | None = None


def cell_limits(p: CellLimitParams) -> dict[str, Any]:
    """A simulated cell's `arm_limits`, `hand_limits` and `workspace` keyword arguments."""
    from dexscrew_sdk.interfaces import ur5e_limits, xhand_limits

    return {
        "arm_limits": arm_limits(p.arm_limits) if p.arm_limits else ur5e_limits(),
        "hand_limits": hand_limits(p.hand_limits) if p.hand_limits else xhand_limits(),
        "workspace": None if p.workspace is None else p.workspace.build(),
    }


def arm_limits(p: JointLimitParams | None) -> Any:
    from dexscrew_sdk.interfaces import ur5e_limits

    base = ur5e_limits()
    return base if p is None else _narrow(p, base, "arm_limits")


def hand_limits(p: JointLimitParams | None) -> Any:
    from dexscrew_sdk.interfaces import xhand_limits

    base = xhand_limits()
    return base if p is None else _narrow(p, base, "hand_limits")


def _narrow(p: JointLimitParams, base: Any, what: str) -> Any:
    try:
        return p.narrow(base)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None
