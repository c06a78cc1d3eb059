"""`dexscrew up`: start a cell's nodes as processes, supervise them, stop them cleanly.

A node that exits is reported with its exit code (or signal) and restarted
according to its policy: "never", "on-failure" (non-zero exit or signal) or
"always", at most `max_restarts` times with a short back-off.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dexscrew_sdk.config import CellConfig, NodeSpec
from dexscrew_sdk.errors import DeviceTimeoutError
from dexscrew_sdk.remote import NodeClient

RESTART_BACKOFF_S = 0.3


@dataclass
class _Child:
    spec: NodeSpec
    proc: subprocess.Popen[bytes]
    restarts: int = 0
    restart_at: float | None = None
    given_up: bool = False


class NodeExitedError(RuntimeError):
    """A node process ended while it was expected to start serving."""


def wait_node_ready(cfg: CellConfig, name: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Return once node `name` answers a ping; NodeExitedError if its process ends first."""
    client = NodeClient(cfg.endpoints(name), [], curve=cfg.client_curve(name))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                raise NodeExitedError(f"node {name} exited with {proc.returncode} during start-up")
            try:
                client.call("", "ping", timeout_s=0.5)
                return
            except DeviceTimeoutError:
                if time.monotonic() > deadline:
                    raise DeviceTimeoutError(f"node {name} not answering after {timeout_s} s") from None
    finally:
        client.close()


class Launcher:
    def __init__(self, cfg: CellConfig, config_path: Path, overrides: list[str], out: TextIO = sys.stdout) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.overrides = overrides
        self.out = out
        self.children: dict[str, _Child] = {}
        self._stopping = False

    def say(self, text: str) -> None:
        print(f"[up] {text}", file=self.out, flush=True)

    def _spawn(self, spec: NodeSpec) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(self.config_path), "--name", spec.name]
        for o in self.overrides:
            cmd += ["--set", o]
        proc = subprocess.Popen(cmd, start_new_session=True)  # our Ctrl-C is handled here, not by children
        self.say(f"node {spec.name} started pid={proc.pid} serves={','.join(spec.serves)}")
        return proc

    def start(self, ready_timeout_s: float = 30.0) -> None:
        for spec in self.cfg.nodes.values():
            self.children[spec.name] = _Child(spec, self._spawn(spec))
        for name in self.children:
            self.wait_ready(name, ready_timeout_s)
        self.say(f"cell {self.cfg.name} ready")

    def wait_ready(self, name: str, timeout_s: float) -> None:
        wait_node_ready(self.cfg, name, self.children[name].proc, timeout_s)

    def supervise_once(self) -> None:
        now = time.monotonic()
        for name, child in self.children.items():
            if child.given_up:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    child.proc = self._spawn(child.spec)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
            policy = child.spec.restart
            wanted = policy == "always" or (policy == "on-failure" and code != 0)
            if not wanted or child.restarts >= child.spec.max_restarts:
                child.given_up = True
                self.say(
                    f"node {name} exited ({how}); not restarting (policy {policy}, "
                    f"{child.restarts}/{child.spec.max_restarts} restarts used)"
                )
                continue
            child.restarts += 1
            child.restart_at = now + RESTART_BACKOFF_S
            self.say(f"node {name} exited ({how}); restarting ({child.restarts}/{child.spec.max_restarts})")

    def run_forever(self, poll_s: float = 0.05) -> int:
        def on_signal(*_: object) -> None:
            self._stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start()
            while not self._stopping and not all(c.given_up for c in self.children.values()):
                self.supervise_once()
                time.sleep(poll_s)  # supervision cadence, not a wait for a condition
        finally:
            self.shutdown()
        return 0 if self._stopping else 1

    def shutdown(self, grace_s: float = 5.0) -> None:
        live = [c.proc for c in self.children.values() if c.proc.poll() is None]
        for p in live:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in live:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"pid {p.pid} ignored SIGTERM for {grace_s} s; killing it")
                p.kill()
                p.wait()
        self.say("all nodes stopped")
