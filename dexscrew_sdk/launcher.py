"""`dexscrew up`: start a cell's nodes as processes, supervise them, stop them cleanly.

A node that exits is reported with its exit code (or signal) and restarted
according to its policy: "never", "on-failure" (non-zero exit or signal) or
"always", at most `max_restarts` times with a short back-off.

A node counts as ready only when a ping is answered by the very process that
was spawned (the reply carries its pid): another cell's node on the same ports
does not count. A node that fails at start-up ends `up` with the node's own
message and a non-zero exit. Each node's stderr is passed through, line by line,
and its last lines are kept for that report.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from dexscrew_sdk.config import CellConfig, NodeSpec
from dexscrew_sdk.errors import DeviceTimeoutError, NodeExitedError
from dexscrew_sdk.node_process import SUPERVISOR_PID_ENV
from dexscrew_sdk.remote import NodeClient

__all__ = ["Launcher", "NodeExitedError", "wait_node_ready"]

RESTART_BACKOFF_S = 0.3


@dataclass
class StderrTail:
    """The last lines a node wrote to stderr; `done` once its stream closed (the process ended)."""

    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Child:
    spec: NodeSpec
    proc: subprocess.Popen[bytes]
    restarts: int = 0
    restart_at: float | None = None
    given_up: bool = False
    tail: StderrTail = field(default_factory=StderrTail)


def wait_node_ready(
    cfg: CellConfig, name: str, proc: subprocess.Popen[bytes], timeout_s: float, tail: StderrTail | None = None
) -> None:
    """Return once the node process `proc` itself answers a ping as node `name`.

    NodeExitedError (with the node's last stderr lines, when `tail` collects them) if the process ends
    first; DeviceTimeoutError if it does not answer within timeout_s, or only someone else does."""
    client = NodeClient(cfg.endpoints(name), [], curve=cfg.client_curve(name))
    deadline = time.monotonic() + timeout_s
    stranger: object = None
    try:
        while True:
            if proc.poll() is not None:
                if tail is not None:
                    tail.done.wait(2.0)  # its last words may still be in the pipe
                said = _last_words(tail)
                raise NodeExitedError(
                    f"node {name} exited with code {proc.returncode} during start-up" + (f": {said}" if said else "")
                )
            try:
                reply = client.call("", "ping", timeout_s=0.5)
                if isinstance(reply, dict) and reply.get("pid") == proc.pid and reply.get("node") == name:
                    return
                stranger = reply  # another process answers on these ports: not ready, whatever it says
                time.sleep(0.05)  # the spawned node is still starting (or failing to bind): poll again
            except DeviceTimeoutError:
                pass
            if time.monotonic() > deadline:
                who = f"; another process answers on its ports ({stranger})" if stranger is not None else ""
                raise DeviceTimeoutError(f"node {name} not answering after {timeout_s} s{who}")
    finally:
        client.close()


def _last_words(tail: StderrTail | None) -> str:
    """The node's own error line: its last stderr line, preferring the command line's error report."""
    if tail is None:
        return ""
    lines = [ln for ln in tail.lines if ln.strip()]
    mine = [ln for ln in lines if ln.startswith("dexscrew ")]
    return (mine or lines or [""])[-1].strip()


def _forward(stream: IO[bytes], tail: StderrTail, out: TextIO) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        tail.lines.append(line)
        print(line, file=out, flush=True)
    stream.close()
    tail.done.set()


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

    def _spawn(self, spec: NodeSpec, tail: StderrTail) -> subprocess.Popen[bytes]:
        config = str(self.cfg.source or self.config_path)
        cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", config, "--name", spec.name]
        for o in self.overrides:
            cmd += ["--set", o]
        # our Ctrl-C is handled here, not by children; their stderr passes through us (and is remembered)
        env = {**os.environ, SUPERVISOR_PID_ENV: str(os.getpid())}
        proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        threading.Thread(target=_forward, args=(proc.stderr, tail, sys.stderr), daemon=True).start()
        self.say(f"node {spec.name} started pid={proc.pid} serves={','.join(spec.serves)}")
        return proc

    def start(self, ready_timeout_s: float = 30.0) -> None:
        """Spawn every node and wait until each answers itself; NodeExitedError/DeviceTimeoutError otherwise."""
        from dexscrew_sdk import config as config_mod

        config_mod.check_all(self.cfg)  # every factory's parameters, before anything is spawned
        for spec in self.cfg.nodes.values():
            tail = StderrTail()
            self.children[spec.name] = _Child(spec, self._spawn(spec, tail), tail=tail)
        for name in self.children:
            self.wait_ready(name, ready_timeout_s)
        self.say(f"cell {self.cfg.name} ready")

    def wait_ready(self, name: str, timeout_s: float) -> None:
        child = self.children[name]
        wait_node_ready(self.cfg, name, child.proc, timeout_s, child.tail)

    def supervise_once(self) -> None:
        now = time.monotonic()
        for name, child in self.children.items():
            if child.given_up:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    child.tail = StderrTail()
                    child.proc = self._spawn(child.spec, child.tail)
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
