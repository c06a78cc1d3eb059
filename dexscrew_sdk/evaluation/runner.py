"""`Evaluation`: seeded trials in parallel over several twin nodes, one worker process each.

Results are appended to the durable log as each trial finishes, so an
interrupted evaluation resumes where it stopped. A trial whose twin node died
is an infrastructure failure: retried once with the same seed on another
worker, excluded from the means, counted and reported.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dexscrew_sdk.errors import ConfigError, DexscrewError
from dexscrew_sdk.evaluation.results import STATUS_INFRA, ResultsLog, TrialResult, TrialSpec, finished_keys
from dexscrew_sdk.evaluation.worker import WorkerSetup, worker_main

READY_TIMEOUT_S = 300.0  # a worker imports torch, loads its methods and starts its node (slow on a loaded machine)
# ("ready", wid, node_pid, worker_pid) | ("started", wid, key, node_pid) | ("result", wid, TrialResult)
Event = tuple[Any, ...]


class EvaluationFailed(DexscrewError):
    """A worker hit an error that is not infrastructure (a missing stage, a mismatched checkpoint, a bug)."""


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Worker:
    wid: int
    proc: Any
    tasks: Any  # our end of its task pipe
    results: Any  # our end of its result pipe
    ready: bool = False
    node_pid: int = -1
    busy: tuple[TrialSpec, int] | None = None
    spawned_at: float = field(default_factory=time.monotonic)
    replaced: bool = False


class Evaluation:
    def __init__(self, setup: WorkerSetup, out_dir: Path, workers: int | None = None) -> None:
        self.setup = setup
        self.out_dir = Path(out_dir)
        self.workers = workers or usable_cores()
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        self.log = ResultsLog(self.out_dir / "trials.jsonl")
        self._ctx = mp.get_context("spawn")  # a clean interpreter per worker: no inherited sockets or physics
        self._next_wid = 0
        self._avoid: dict[str, int] = {}  # trial key -> the worker whose node died under it

    def pending(self, specs: list[TrialSpec]) -> list[tuple[TrialSpec, int]]:
        """(spec, attempt) still to run: unfinished keys, a first infrastructure failure as its retry."""
        logged = self.log.load()
        done = finished_keys(logged)
        failed_once = {r.spec.key for r in logged if r.status == STATUS_INFRA and r.attempt == 0}
        return [(s, 1 if s.key in failed_once else 0) for s in specs if s.key not in done]

    def run(self, specs: list[TrialSpec], on_event: Callable[[Event], None] | None = None) -> list[TrialResult]:
        todo = deque(self.pending(specs))
        if todo:
            self._run(todo, on_event or (lambda e: None), total=len(specs), already=len(specs) - len(todo))
        keys = {s.key for s in specs}
        return [r for r in self.log.load() if r.spec.key in keys]

    # ------------------------------------------------------------------ internals
    def _spawn(self) -> _Worker:
        wid, self._next_wid = self._next_wid, self._next_wid + 1
        task_recv, task_send = self._ctx.Pipe(duplex=False)
        result_recv, result_send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=worker_main, args=(wid, self.setup, task_recv, result_send), daemon=True)
        proc.start()
        task_recv.close()  # the child's ends: closed here, so a dead child reads as end-of-file
        result_send.close()
        return _Worker(wid, proc, task_send, result_recv)

    def _receive(self, pool: list[_Worker], timeout_s: float) -> list[tuple[_Worker, tuple[Any, ...]]]:
        ready = mp_connection.wait([w.results for w in pool if not w.results.closed], timeout_s)
        out = []
        for w in pool:
            if w.results in ready:
                try:
                    out.append((w, w.results.recv()))
                except (EOFError, OSError):  # the worker died: _check_alive handles its trial
                    w.results.close()
        return out

    def _run(
        self, todo: deque[tuple[TrialSpec, int]], on_event: Callable[[Event], None], total: int, already: int
    ) -> None:
        from tqdm import tqdm

        pool = [self._spawn() for _ in range(min(self.workers, len(todo)))]
        bar = tqdm(total=total, initial=already, desc="trials", unit="trial", dynamic_ncols=True)
        self._infra = 0
        try:
            while todo or any(w.busy for w in pool):
                self._assign(pool, todo)
                for w, msg in self._receive(pool, 0.5):
                    self._handle(w, msg, todo, bar, on_event)
                self._check_alive(pool, todo)
        finally:
            bar.close()
            self._stop(pool)

    def _handle(self, w: _Worker, msg: tuple[Any, ...], todo: deque[tuple[TrialSpec, int]], bar: Any,
                on_event: Callable[[Event], None]) -> None:  # fmt: skip
        kind, wid = msg[0], msg[1]
        if kind == "fatal":
            raise EvaluationFailed(f"evaluation worker {wid} failed (log: {self.setup.log_dir}):\n{msg[2]}")
        if kind == "ready":
            w.ready, w.node_pid = True, msg[2]
            on_event(("ready", wid, msg[2], w.proc.pid))
        elif kind == "started":
            w.node_pid = msg[3]
            on_event(("started", wid, msg[2], msg[3]))
        elif kind == "result":
            res = TrialResult.from_dict(msg[2])
            self.log.append(res)  # durable before anything else happens
            spec, attempt = w.busy or (res.spec, res.attempt)
            w.busy = None
            if res.status == STATUS_INFRA:
                self._infra += 1
                if attempt == 0:
                    todo.appendleft((spec, 1))  # same seed, another worker (see _assign)
                    self._avoid[spec.key] = wid
            if res.status != STATUS_INFRA or attempt >= 1:
                bar.update(1)  # the trial has its final record
            bar.set_postfix(infra=self._infra)
            on_event(("result", wid, res))

    def _assign(self, pool: list[_Worker], todo: deque[tuple[TrialSpec, int]]) -> None:
        ready = [w for w in pool if w.ready and w.busy is None and w.proc.is_alive()]
        for w in ready:
            alive_others = any(x is not w and x.proc.is_alive() for x in pool)
            for i, (spec, attempt) in enumerate(todo):
                if attempt == 1 and alive_others and self._avoid.get(spec.key) == w.wid:
                    continue  # a retry goes to another worker while there is one
                del todo[i]
                w.busy = (spec, attempt)
                w.tasks.send((asdict(spec), attempt))
                break

    def _check_alive(self, pool: list[_Worker], todo: deque[tuple[TrialSpec, int]]) -> None:
        for i, w in enumerate(pool):
            if w.proc.is_alive():
                if not w.ready and time.monotonic() - w.spawned_at > READY_TIMEOUT_S:
                    raise EvaluationFailed(f"worker {w.wid} has no twin node after {READY_TIMEOUT_S} s "
                                           f"(log: {self.setup.log_dir}/worker{w.wid}.log)")  # fmt: skip
                continue
            # the worker process itself died (not just its node): its trial is an infrastructure failure
            if w.busy is not None:
                spec, attempt = w.busy
                w.busy = None
                res = TrialResult(spec, status=STATUS_INFRA, attempt=attempt, worker=w.wid,
                                  error=f"worker process exited with {w.proc.exitcode}")  # fmt: skip
                self.log.append(res)
                self._infra += 1
                if attempt == 0:
                    todo.appendleft((spec, 1))
                    self._avoid[spec.key] = w.wid
            if todo and not w.replaced:
                w.replaced = True
                pool[i] = self._spawn()

    def _stop(self, pool: list[_Worker]) -> None:
        for w in pool:
            if w.proc.is_alive():
                with contextlib.suppress(OSError):  # it may be dying already
                    w.tasks.send(None)
        deadline = time.monotonic() + 15.0
        for w in pool:
            w.proc.join(max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():  # our own child, by its handle: it shuts its node down on SIGTERM
                w.proc.terminate()
                w.proc.join(5.0)
