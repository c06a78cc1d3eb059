"""PyBullet CPU backend: the twins' simplified revolute world, several environments per
physics world and one worker process per core.

Workers exchange small numpy arrays with the trainer over pipes (process-local,
never the network); the trainer sends every worker its step first and then
collects, so the workers simulate in parallel. When there are no more workers
than usable cores, each worker is pinned to its own core: the trainer wakes up
between steps and, unpinned, the scheduler migrates workers with it, their
caches cold (+10 % env steps/s measured on 2 cores, `dexscrew bench rl`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from policies.rl.backends.base import WorldState

_FIELDS = ("q", "qd", "torque", "angle", "angvel", "obj_pos", "tips", "contact", "priv")


def _make_world(task: str, num_envs: int, seed: int, **kwargs: Any):
    try:
        from twins.rl_world import RevoluteWorld, RLWorldConfig
    except ModuleNotFoundError as exc:
        raise ImportError(
            "the PyBullet backend needs twins.rl_world and pybullet (pip install 'dexscrew-sdk[sim]')"
        ) from exc
    return RevoluteWorld(RLWorldConfig(task=task, num_envs=num_envs, seed=seed, **kwargs))


def _read(world: Any) -> dict[str, np.ndarray]:
    raw = {
        "q": world.hand_q(),
        "qd": world.hand_qd(),
        "torque": world.hand_torque(),
        "angle": world.object_angle(),
        "angvel": world.object_angvel(),
        "obj_pos": world.object_pos(),
        "tips": world.fingertip_pos(),
        "contact": world.fingertip_contact(),
        "priv": world.privileged(),
    }
    return {k: np.array(v) for k, v in raw.items()}


def _worker(conn: Connection, task: str, num_envs: int, seed: int, cpu: int | None, kwargs: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the trainer handles Ctrl-C and closes us
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        world = _make_world(task, num_envs, seed, **kwargs)
        conn.send(("ok", (world.joint_lower, world.joint_upper, len(world.PRIVILEGED_NAMES))))
    except Exception as exc:  # report, do not hang the trainer
        conn.send(("error", repr(exc)))
        return
    try:
        while True:
            cmd, arg = conn.recv()
            if cmd == "step":
                world.step(arg)
                conn.send(_read(world))
            elif cmd == "reset":
                ids, q0 = arg
                world.reset(env_ids=ids, q_init=q0)
                conn.send(_read(world))
            elif cmd == "close":
                break
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        world.close()


def usable_cpus() -> list[int]:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


class PyBulletBackend:
    """`num_envs` environments split over `workers` processes (0 = one per core, 1 = in-process);
    `pin_workers` gives each its own core when there are enough (see the module docstring)."""

    def __init__(
        self, task: str, num_envs: int, seed: int, workers: int = 0, pin_workers: bool = True, **world_kwargs: Any
    ) -> None:
        self.num_envs, self.device = num_envs, torch.device("cpu")
        workers = workers or len(usable_cpus())
        workers = max(1, min(workers, num_envs))
        sizes = [num_envs // workers + (1 if i < num_envs % workers else 0) for i in range(workers)]
        self._starts = np.cumsum([0, *sizes])
        self._world = None
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        if workers == 1:
            self._world = _make_world(task, num_envs, seed, **world_kwargs)
            lower, upper, p = self._world.joint_lower, self._world.joint_upper, len(self._world.PRIVILEGED_NAMES)
            self._state = _read(self._world)
        else:
            ctx = mp.get_context("spawn")
            cpus = usable_cpus()
            pin = pin_workers and len(cpus) >= workers
            for i, n in enumerate(sizes):
                parent, child = ctx.Pipe()
                cpu = cpus[i] if pin else None
                proc = ctx.Process(
                    target=_worker, args=(child, task, n, seed + 1000 * i, cpu, world_kwargs), daemon=True
                )
                proc.start()
                self._conns.append(parent)
                self._procs.append(proc)
            replies = [c.recv() for c in self._conns]
            errors = [r[1] for r in replies if r[0] != "ok"]
            if errors:
                self.close()
                raise RuntimeError(f"PyBullet worker failed to start: {errors[0]}")
            lower, upper, p = replies[0][1]
            self._state = self._gather([c.recv() for c in self._send_all("reset", None)])
        self.joint_lower = torch.as_tensor(np.asarray(lower), dtype=torch.float32)
        self.joint_upper = torch.as_tensor(np.asarray(upper), dtype=torch.float32)
        self.priv_dim = int(p)
        self.workers = workers

    def _send_all(self, cmd: str, per_worker: Any) -> list[Connection]:
        for i, c in enumerate(self._conns):
            if cmd == "reset" and per_worker is None:
                lo, hi = self._starts[i], self._starts[i + 1]
                c.send(("reset", (list(range(hi - lo)), None)))
            else:
                c.send((cmd, per_worker[i]))
        return self._conns

    @staticmethod
    def _gather(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in parts]) for k in _FIELDS}

    def reset(self, env_ids: torch.Tensor, q_init: torch.Tensor) -> None:
        ids, q0 = env_ids.cpu().numpy(), q_init.cpu().numpy().astype(np.float64)
        if self._world is not None:
            self._world.reset(env_ids=ids, q_init=q0)
            self._state = _read(self._world)
            return
        busy = []
        for i, c in enumerate(self._conns):
            lo, hi = self._starts[i], self._starts[i + 1]
            sel = (ids >= lo) & (ids < hi)
            if sel.any():
                c.send(("reset", (ids[sel] - lo, q0[sel])))
                busy.append(i)
        parts = {i: self._conns[i].recv() for i in busy}
        for i, part in parts.items():
            lo, hi = self._starts[i], self._starts[i + 1]
            for k in _FIELDS:
                self._state[k][lo:hi] = part[k]

    def step(self, targets: torch.Tensor) -> None:
        t = targets.detach().cpu().numpy().astype(np.float64)
        if self._world is not None:
            self._world.step(t)
            self._state = _read(self._world)
            return
        for i, c in enumerate(self._conns):
            c.send(("step", t[self._starts[i] : self._starts[i + 1]]))
        self._state = self._gather([c.recv() for c in self._conns])

    def state(self) -> WorldState:
        s = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in self._state.items()}
        s["contact"] = torch.as_tensor(np.asarray(self._state["contact"]), dtype=torch.bool)
        return WorldState(**s)

    def close(self) -> None:
        if self._world is not None:
            self._world.close()
            self._world = None
        for c in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                c.send(("close", None))
        for p in self._procs:
            p.join(timeout=5.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2.0)
        self._conns, self._procs = [], []
