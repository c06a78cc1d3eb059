"""Shared fixtures: free loopback ports and node processes that tests start and end by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dexscrew_sdk import config
from dexscrew_sdk.launcher import NodeExitedError, wait_node_ready
from dexscrew_sdk.ports import free_base_port

REPO = Path(__file__).resolve().parent.parent
if TYPE_CHECKING:
    from dexscrew_sdk.cell import Cell

CONFIGS = REPO / "dexscrew_sdk" / "configs"  # the shipped configurations (a package)
REFERENCE_CELL = CONFIGS / "reference_cell.toml"


def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.01):
    """Poll a condition until true or fail with a message; the only way tests wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@dataclass
class NodeProcess:
    proc: subprocess.Popen[bytes]
    config: Path
    overrides: list[str]
    base_port: int

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_node(config_path: Path, name: str, overrides: list[str], ready_timeout_s: float = 30.0) -> NodeProcess:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(config_path), "--name", name]
    for o in overrides:
        cmd += ["--set", o]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this function; a file, not a pipe: a chatty node must never block on a full pipe
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    cfg = config.load(config_path, overrides)
    try:
        wait_node_ready(cfg, name, proc, ready_timeout_s)
    except NodeExitedError:
        log.seek(0)
        raise NodeExitedError(f"node exited early: {log.read().decode(errors='replace')}") from None
    except BaseException:
        proc.kill()  # never leave a half-started node behind
        proc.wait()
        raise
    base = cfg.nodes[name].base_port
    return NodeProcess(proc, config_path, overrides, base)


def connected_twin_cell() -> Iterator[Cell]:
    """A twin node process on free ports and a Cell connected to it; the node ends with the generator."""
    from dexscrew_sdk.cell import Cell

    twin = CONFIGS / "twin_cell.toml"
    overrides = [f"nodes.twin.base_port={free_base_port()}"]
    node = start_node(twin, "twin", overrides)
    try:
        with Cell.connect(twin, overrides, connect_timeout_s=30.0) as c:
            yield c
    finally:
        node.kill(signal.SIGTERM)


@pytest.fixture
def reference_node(request: pytest.FixtureRequest) -> Iterator[NodeProcess]:
    """A kinematic reference cell node on free ports; extra overrides via indirect parametrisation."""
    base = free_base_port()
    extra = list(getattr(request, "param", []))
    node = start_node(REFERENCE_CELL, "cell", [f"nodes.cell.base_port={base}", *extra])
    try:
        yield node
    finally:
        node.kill(signal.SIGTERM)
