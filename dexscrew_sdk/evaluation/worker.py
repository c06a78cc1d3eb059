"""One evaluation worker: a process that owns one twin node (started through the launcher) and runs trials.

The worker's twin node is a real node process on loopback, on free ports,
started with the same launcher and configuration machinery as `dexscrew up`.
When that node dies mid-trial, the trial is reported as an infrastructure
failure and the worker starts a fresh node before taking the next trial.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexscrew_sdk import config as config_mod
from dexscrew_sdk.errors import CommandRejected, DeviceNotConnected, DeviceTimeoutError
from dexscrew_sdk.evaluation.results import STATUS_INFRA, TrialResult, TrialSpec

NODE_READY_TIMEOUT_S = 180.0
# Errors a hung node produces on the client side (a dead node makes any error infrastructure).
NODE_ERRORS: tuple[type[BaseException], ...] = (DeviceTimeoutError, DeviceNotConnected, ConnectionError, OSError)


@dataclass
class WorkerSetup:
    """Everything a worker process needs; plain data, so it crosses the process boundary."""

    config_path: str
    overrides: list[str]
    method_config: Any  # methods.MethodConfig
    trace_dir: str
    log_dir: str
    control_hz: float = 20.0
    env: dict[str, str] = field(default_factory=dict)


class _TwinNode:
    """The worker's own twin node: launcher + connected cell, restartable on fresh ports."""

    def __init__(self, setup: WorkerSetup, log: Any) -> None:
        from dexscrew_sdk.ports import free_base_port

        cfg0 = config_mod.load(setup.config_path, setup.overrides)
        self.node = cfg0.node_serving("world").name
        overrides = [*setup.overrides, f"nodes.{self.node}.base_port={free_base_port(cfg0.host)}"]
        self.cfg = config_mod.load(setup.config_path, overrides)
        if not self.cfg.lockstep:
            raise config_mod.ConfigError("evaluation needs a lockstep twin (cell.lockstep = true): trials must be "
                                         "deterministic for a seed and run faster than real time")  # fmt: skip
        from dexscrew_sdk.cell import Cell
        from dexscrew_sdk.launcher import Launcher

        self.launcher = Launcher(self.cfg, Path(setup.config_path), overrides, out=log)
        self.launcher.start(ready_timeout_s=NODE_READY_TIMEOUT_S)
        self.cell = Cell.connect(self.cfg)

    @property
    def pid(self) -> int:
        return self.launcher.children[self.node].proc.pid

    @property
    def alive(self) -> bool:
        return self.launcher.children[self.node].proc.poll() is None

    def close(self) -> None:
        try:
            self.cell.close()
        finally:
            self.launcher.shutdown(grace_s=3.0)


def worker_main(wid: int, setup: WorkerSetup, tasks: Any, results: Any) -> None:
    """Process entry: start a node, then run (spec, attempt) items until a None arrives.

    `tasks` and `results` are this worker's own pipe ends (nothing shared with other workers, so a
    worker killed mid-message can only break its own channel)."""
    signal.signal(signal.SIGTERM, _exit_cleanly)  # terminate() must still stop this worker's node
    os.environ.update(setup.env)
    log_path = Path(setup.log_dir) / f"worker{wid}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", buffering=1)
    os.dup2(log.fileno(), 1)  # the node processes inherit these: their logs go to the file, not the terminal
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    from dexscrew_sdk.evaluation.methods import build_methods
    from dexscrew_sdk.evaluation.trial import run_trial

    node: _TwinNode | None = None
    try:
        methods = build_methods(setup.method_config)
        node = _TwinNode(setup, log)
        results.send(("ready", wid, node.pid))
        while True:
            if not tasks.poll(1.0):
                continue
            item = tasks.recv()
            if item is None:
                return
            spec_d, attempt = item
            spec = TrialSpec(**spec_d)
            if node is None or not node.alive:
                node = _restart(node, setup, log)
            results.send(("started", wid, spec.key, node.pid))
            try:
                res = run_trial(node.cell, methods[spec.method], spec, control_hz=node.cfg.control_hz,
                                trace_dir=Path(setup.trace_dir))  # fmt: skip
            except CommandRejected as exc:  # the method sent a target the cell's safety refused
                res = TrialResult(spec, failure_reason="command_rejected", error=str(exc))
            except Exception as exc:
                if node.alive and not isinstance(exc, NODE_ERRORS):
                    raise  # the node is fine: a bug or a missing piece, not infrastructure
                error = f"{type(exc).__name__}: {exc} (node pid {node.pid} {'alive' if node.alive else 'dead'})"
                results.send(("result", wid, _infra(spec, attempt, wid, error).to_dict()))
                node = _restart(node, setup, log)
                continue
            res.attempt, res.worker = attempt, wid
            results.send(("result", wid, res.to_dict()))
    except (KeyboardInterrupt, SystemExit):
        return
    except BaseException:
        results.send(("fatal", wid, traceback.format_exc()))
    finally:
        if node is not None:
            node.close()
        log.close()


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)


def _infra(spec: TrialSpec, attempt: int, wid: int, error: str) -> TrialResult:
    return TrialResult(spec, status=STATUS_INFRA, attempt=attempt, worker=wid, error=error)


def _restart(node: _TwinNode | None, setup: WorkerSetup, log: Any) -> _TwinNode:
    if node is not None:
        node.close()
    return _TwinNode(setup, log)
