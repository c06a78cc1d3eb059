"""`Evaluation`: seeded trials in parallel over several twin nodes, one worker process each.

Results are appended to the durable log as each trial finishes, so an
interrupted evaluation resumes where it stopped. A trial whose twin node died
is an infrastructure failure: retried once with the same seed on another
worker, excluded from the means, counted and reported.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.evaluation.results import STATUS_INFRA, ResultsLog, TrialResult, TrialSpec, finished_keys
from dexscrew_sdk.evaluation.worker import WorkerSetup, worker_main

READY_TIMEOUT_S = 120.0
Event = tuple[Any, ...]  # ("ready", wid, pid) | ("started", wid, key, pid) | ("result", wid, TrialResult)


class EvaluationFailed(DexscrewError):
    """A worker hit an error that is not infrastructure (a missing stage, a mismatched checkpoint, a bug)."""


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Worker:
    wid: int
    proc: Any
    tasks: Any
    ready: bool = False
    node_pid: int = -1
    busy: tuple[TrialSpec, int] | None = None


class Evaluation:
    def __init__(self, setup: WorkerSetup, out_dir: Path, workers: int | None = None) -> None:
        self.setup = setup
        self.out_dir = Path(out_dir)
        self.workers = workers or usable_cores()
        if self.workers < 1:
            raise DexscrewError(f"--workers must be >= 1, got {self.workers}")
        self.log = ResultsLog(self.out_dir / "trials.jsonl")
        self._ctx = mp.get_context("spawn")  # a clean interpreter per worker: no inherited sockets or physics
        self._next_wid = 0
        self._avoid: dict[str, int] = {}  # trial key -> the worker whose node died under it

    def pending(self, specs: list[TrialSpec]) -> list[tuple[TrialSpec, int]]:
        """(spec, attempt) still to run: unfinished keys, a first infrastructure failure as its retry."""
        done = finished_keys(self.log.load())
        failed_once = {r.spec.key for r in self.log.load() if r.status == STATUS_INFRA and r.attempt == 0}
        return [(s, 1 if s.key in failed_once else 0) for s in specs if s.key not in done]

    def run(self, specs: list[TrialSpec], on_event: Callable[[Event], None] | None = None) -> list[TrialResult]:
        todo = deque(self.pending(specs))
        if todo:
            self._run(todo, on_event or (lambda e: None), total=len(specs), already=len(specs) - len(todo))
        keys = {s.key for s in specs}
        return [r for r in self.log.load() if r.spec.key in keys]

    # ------------------------------------------------------------------ internals
    def _spawn(self, results: Any) -> _Worker:
        wid, self._next_wid = self._next_wid, self._next_wid + 1
        tasks = self._ctx.Queue()
        proc = self._ctx.Process(target=worker_main, args=(wid, self.setup, tasks, results), daemon=True)
        proc.start()
        return _Worker(wid, proc, tasks)

    def _run(
        self, todo: deque[tuple[TrialSpec, int]], on_event: Callable[[Event], None], total: int, already: int
    ) -> None:
        from tqdm import tqdm

        results = self._ctx.Queue()
        pool = [self._spawn(results) for _ in range(min(self.workers, len(todo)))]
        started = time.monotonic()
        bar = tqdm(total=total, initial=already, desc="trials", unit="trial", dynamic_ncols=True)
        infra = 0
        try:
            while todo or any(w.busy for w in pool):
                self._assign(pool, todo)
                try:
                    msg = results.get(timeout=0.5)
                except queue.Empty:
                    self._check_alive(pool, todo, results, started)
                    continue
                kind, wid = msg[0], msg[1]
                w = next(x for x in pool if x.wid == wid)
                if kind == "fatal":
                    raise EvaluationFailed(f"evaluation worker {wid} failed (log: {self.setup.log_dir}):\n{msg[2]}")
                if kind == "ready":
                    w.ready, w.node_pid = True, msg[2]
                    on_event(("ready", wid, msg[2]))
                elif kind == "started":
                    w.node_pid = msg[3]
                    on_event(("started", wid, msg[2], msg[3]))
                elif kind == "result":
                    res = TrialResult.from_dict(msg[2])
                    self.log.append(res)  # durable before anything else happens
                    spec, attempt = w.busy or (res.spec, res.attempt)
                    w.busy = None
                    if res.status == STATUS_INFRA:
                        infra += 1
                        if attempt == 0:
                            todo.appendleft((spec, 1))  # same seed, another worker (see _assign)
                            self._avoid[spec.key] = wid
                            bar.set_postfix(infra=infra)
                            on_event(("result", wid, res))
                            continue
                    bar.update(1)
                    bar.set_postfix(infra=infra)
                    on_event(("result", wid, res))
        finally:
            bar.close()
            self._stop(pool)

    def _assign(self, pool: list[_Worker], todo: deque[tuple[TrialSpec, int]]) -> None:
        ready = [w for w in pool if w.ready and w.busy is None and w.proc.is_alive()]
        for w in ready:
            alive_others = any(x is not w and x.proc.is_alive() for x in pool)
            for i, (spec, attempt) in enumerate(todo):
                if attempt == 1 and alive_others and self._avoid.get(spec.key) == w.wid:
                    continue  # a retry goes to another worker while there is one
                del todo[i]
                w.busy = (spec, attempt)
                w.tasks.put((asdict(spec), attempt))
                break

    def _check_alive(self, pool: list[_Worker], todo: deque[tuple[TrialSpec, int]], results: Any, t0: float) -> None:
        for i, w in enumerate(pool):
            if w.proc.is_alive():
                if not w.ready and time.monotonic() - t0 > READY_TIMEOUT_S:
                    raise EvaluationFailed(f"worker {w.wid} has no twin node after {READY_TIMEOUT_S} s "
                                           f"(log: {self.setup.log_dir}/worker{w.wid}.log)")  # fmt: skip
                continue
            # the worker process itself died (not just its node): its trial is an infrastructure failure
            if w.busy is not None:
                spec, attempt = w.busy
                res = TrialResult(spec, status=STATUS_INFRA, attempt=attempt, worker=w.wid,
                                  error=f"worker process exited with {w.proc.exitcode}")  # fmt: skip
                self.log.append(res)
                if attempt == 0:
                    todo.appendleft((spec, 1))
                    self._avoid[spec.key] = w.wid
            if todo:
                pool[i] = self._spawn(results)

    def _stop(self, pool: list[_Worker]) -> None:
        for w in pool:
            if w.proc.is_alive():
                w.tasks.put(None)
        deadline = time.monotonic() + 15.0
        for w in pool:
            w.proc.join(max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():  # our own child, by its handle: it shuts its node down on SIGTERM
                w.proc.terminate()
                w.proc.join(5.0)
