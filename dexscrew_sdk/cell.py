"""A client's view of a whole cell: remote devices and the right clock, from a config."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from dexscrew_sdk import config as config_mod
from dexscrew_sdk.bus import Context
from dexscrew_sdk.clock import Clock, LockstepClock, RealTimeClock
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.records import DeviceInfo
from dexscrew_sdk.remote import PROXIES, NodeClient, RemoteArm, RemoteHand, RemoteTactile, RemoteWorld, require


def _proxy(client: NodeClient, node: str, dev: str, timeout_s: float) -> object:
    """The proxy for the kind the device reports in info(); its name is only a name."""
    info = DeviceInfo.from_dict(client.call(dev, "info", timeout_s=timeout_s))
    proxy_cls = PROXIES.get(info.kind)
    if proxy_cls is None:
        raise ConfigError(
            f"device {dev!r} of node {node!r} reports kind {info.kind!r}; this SDK has proxies for {sorted(PROXIES)}"
        )
    proxy = proxy_cls(client, dev, info=info)  # type: ignore[call-arg]
    proxy.connect()  # type: ignore[attr-defined]
    return proxy


@dataclass
class Cell:
    config: CellConfig
    clock: Clock
    nodes: dict[str, NodeClient] = field(default_factory=dict)
    devices: dict[str, object] = field(default_factory=dict)

    @classmethod
    def connect(
        cls, cfg: CellConfig | str, overrides: list[str] | None = None, connect_timeout_s: float = 10.0
    ) -> Cell:
        """Proxies for every device the cell serves; waits until each node answers."""
        if not isinstance(cfg, CellConfig):
            cfg = config_mod.load(cfg, overrides)
        nodes: dict[str, NodeClient] = {}
        devices: dict[str, object] = {}
        try:
            for name, spec in cfg.nodes.items():
                client = NodeClient(cfg.endpoints(name), spec.serves, ctx=Context(cfg.client_curve(name)))
                nodes[name] = client
                client.call("", "ping", timeout_s=connect_timeout_s)
                for dev in spec.serves:
                    devices[dev] = _proxy(client, name, dev, connect_timeout_s)
        except BaseException:  # nothing half-connected is left behind
            for client in nodes.values():
                client.close()
                client.ctx.close()
            raise
        period = 1.0 / cfg.control_hz
        clock: Clock = LockstepClock(period, list(nodes.values())) if cfg.lockstep else RealTimeClock(period)
        return cls(cfg, clock, nodes, devices)

    @property
    def arm(self) -> RemoteArm:
        return require(self.devices.get("arm"), "arm")

    @property
    def hand(self) -> RemoteHand:
        return require(self.devices.get("hand"), "hand")

    @property
    def tactile(self) -> RemoteTactile:
        return require(self.devices.get("tactile"), "tactile")

    @property
    def world(self) -> RemoteWorld:
        return require(self.devices.get("world"), "world")

    def emergency_stop(self) -> None:
        """Stop every actuated device of the cell."""
        for dev in self.devices.values():
            if isinstance(dev, (RemoteArm, RemoteHand)):
                dev.emergency_stop()

    def close(self) -> None:
        for client in self.nodes.values():
            client.close()
            client.ctx.close()

    def __enter__(self) -> Cell:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
