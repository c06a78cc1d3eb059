"""Entry point of one node process: build its devices from the config and serve them."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading

import zmq

from dexscrew_sdk import config as config_mod
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.node import Hosted, Node, NodeOptions
from dexscrew_sdk.params import NodeContext

log = logging.getLogger(__name__)

# Set by the launcher in each child's environment: a node whose supervisor is gone (SIGKILLed, crashed)
# stops by itself instead of living on as an orphan holding its ports and a core.
SUPERVISOR_PID_ENV = "DEXSCREW_SUPERVISOR_PID"
SUPERVISOR_POLL_S = 0.5


def host_devices(cfg: CellConfig, name: str) -> Hosted:
    """What node `name`'s factory builds: the devices it serves (and the simulation behind them)."""
    if name not in cfg.nodes:
        raise ConfigError(f"cell {cfg.name!r} has no node {name!r}; nodes: {sorted(cfg.nodes)}")
    spec = cfg.nodes[name]
    factory, params = config_mod.node_params(cfg, name)
    ctx = NodeContext(node=name, devices=tuple(spec.serves), lockstep=cfg.lockstep, control_hz=cfg.control_hz)
    hosted = factory.make(params, ctx)
    if not isinstance(hosted, Hosted):
        raise ConfigError(f"factory {spec.factory!r} returned {type(hosted).__name__}, expected Hosted")
    missing = set(spec.serves) - set(hosted.devices)
    if missing:
        raise ConfigError(f"node {name!r}: factory {spec.factory!r} does not provide {sorted(missing)}")
    return hosted


def build_node(cfg: CellConfig, name: str) -> Node:
    if name not in cfg.nodes:
        raise ConfigError(f"cell {cfg.name!r} has no node {name!r}; nodes: {sorted(cfg.nodes)}")
    check_exposure(cfg, name)
    spec = cfg.nodes[name]
    hosted = host_devices(cfg, name)
    options = NodeOptions(
        name=name,
        endpoints=cfg.endpoints(name),
        publish_hz=spec.publish_hz,
        watchdog_s=spec.watchdog_s,
        lockstep=cfg.lockstep,
        curve=cfg.node_curve(name),
    )
    try:
        return Node(hosted, options)
    except zmq.ZMQError as exc:
        close_hosted(hosted)
        raise ConfigError(
            f"node {name!r} cannot bind {options.endpoints.host} ports {spec.base_port}..{spec.base_port + 2}: "
            f"{exc.strerror}; another process (another cell?) uses them: stop it or change base_port"
        ) from None


def check_exposure(cfg: CellConfig, name: str) -> None:
    """A node listening beyond loopback must use CURVE, unless the configuration says `insecure = true`."""
    if cfg.loopback or cfg.curve_dir is not None:
        return
    if not cfg.insecure:
        raise ConfigError(
            f"node {name!r} would listen on {cfg.host!r} without CURVE: anyone on that network could command "
            'the robot. Create keys with `dexscrew keygen DIR --nodes ...` and set cell.curve_dir = "DIR", '
            "or set cell.insecure = true on a network you trust"
        )
    log.warning(
        "node %s listens on %s WITHOUT authentication or encryption (cell.insecure = true); "
        "anyone who can reach it can command the devices",
        name,
        cfg.host,
    )


def close_hosted(hosted: Hosted) -> None:
    """Close a node's devices and its simulation (each one even if another fails)."""
    for dev in hosted.devices.values():
        try:
            dev.close()
        except Exception as exc:  # closing the others matters more
            log.warning("closing %s failed: %s", dev, exc)
    close = getattr(hosted.sim, "close", None)
    if callable(close):
        close()


def run_node(cfg: CellConfig, name: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(levelname)s %(message)s")
    node = build_node(cfg, name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: node.request_stop())
    logging.getLogger(__name__).info("serving %s on %s", sorted(node.devices), cfg.endpoints(name).state)
    # Everything built so far (devices, models, physics) lives as long as the node: keep it out
    # of the cyclic collector's way so a full collection cannot stall the control loop for long.
    gc.freeze()
    watch_supervisor(node, os.environ.get(SUPERVISOR_PID_ENV))
    node.serve_forever()


def watch_supervisor(node: Node, supervisor_pid: str | None) -> None:
    """Stop the node when the process that launched it is no longer its parent."""
    if not supervisor_pid:
        return
    pid = int(supervisor_pid)

    def watch() -> None:
        while not node.wait_stop_requested(SUPERVISOR_POLL_S):
            if os.getppid() != pid:
                log.warning("supervisor pid %d is gone: stopping", pid)
                node.request_stop()
                return

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
