"""Entry point of one node process: build its devices from the config and serve them."""

from __future__ import annotations

import gc
import logging
import signal
from typing import Any

from dexscrew_sdk import config as config_mod
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.node import Hosted, Node, NodeOptions


def build_node(cfg: CellConfig, name: str) -> Node:
    if name not in cfg.nodes:
        raise ConfigError(f"cell {cfg.name!r} has no node {name!r}; nodes: {sorted(cfg.nodes)}")
    spec = cfg.nodes[name]
    factory = config_mod.resolve_factory(spec.factory)
    params: dict[str, Any] = {
        **spec.params,
        "devices": spec.serves,
        "lockstep": cfg.lockstep,
        "control_hz": cfg.control_hz,
    }
    hosted = factory(params)
    if not isinstance(hosted, Hosted):
        raise ConfigError(f"factory {spec.factory!r} returned {type(hosted).__name__}, expected Hosted")
    missing = set(spec.serves) - set(hosted.devices)
    if missing:
        raise ConfigError(f"node {name!r}: factory {spec.factory!r} does not provide {sorted(missing)}")
    options = NodeOptions(
        name=name,
        endpoints=cfg.endpoints(name),
        publish_hz=spec.publish_hz,
        watchdog_s=spec.watchdog_s,
        lockstep=cfg.lockstep,
        curve=cfg.node_curve(name),
    )
    return Node(hosted, options)


def run_node(cfg: CellConfig, name: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(levelname)s %(message)s")
    node = build_node(cfg, name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: node.request_stop())
    logging.getLogger(__name__).info("serving %s on %s", sorted(node.devices), cfg.endpoints(name).state)
    # Everything built so far (devices, models, physics) lives as long as the node: keep it out
    # of the cyclic collector's way so a full collection cannot stall the control loop for long.
    gc.freeze()
    node.serve_forever()
