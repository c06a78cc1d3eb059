"""Running a BC policy on any cell through the interfaces: the loop evaluation and `run-policy` share.

`PolicyRunner(policy, cell)` checks the checkpoint against the cell before anything
moves (`check_compatible`), then `step()` once per control period: read the arm,
hand and touch, push the observation into the history, re-plan when the executor
asks, take this clock step's action (stale ones dropped), smooth the arm targets if
asked (an EMA that starts at the arm's current position, not at 0 rad), limit the
arm's step to its speed limit, clip to the cell's joint limits and send both through
`Arm.servo` / `Hand.command`, whose safety layer validates again. `run_policy` is the
loop around it; a device fault stops the arm and the hand and is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.records import DeviceMode
from policies.bc.checkpoint import load_policy as load_checkpoint
from policies.bc.executor import ChunkExecutor
from policies.bc.layout import ARM_SLICE, HAND_SLICE, PolicyMismatch
from policies.bc.policy import BCPolicy

FAULT_MODES = (DeviceMode.FAULT, DeviceMode.PROTECTIVE_STOP, DeviceMode.EMERGENCY_STOP)
LIMIT_TOL_RAD = 1e-6


class PolicyFault(DexscrewError):
    """A device reported a fault (or stopped answering) while a policy ran; arm and hand were stopped."""


@dataclass
class DeployConfig:
    mode: str = "chunk"  # "chunk": execute n of H, then re-plan; "ensemble": ACT temporal ensembling
    execute: int = 8  # n (chunk mode)
    ensemble_k: float = 0.01  # ACT's k (ensemble mode)
    arm_smoothing: float = 0.0  # EMA factor of arm targets: a = s a_prev + (1 - s) a_new (the authors: 0.7)
    threads: int = 1  # inference on one core: the 20 Hz loop must not compete with itself


def load_policy(path: str | Path, weights: str = "ema", backend: str = "auto") -> BCPolicy:
    """A checkpoint ready to run (EMA weights by default; `backend`: see BCPolicy)."""
    return BCPolicy(load_checkpoint(Path(path), weights), backend)


def check_compatible(policy: BCPolicy, cell: Any) -> None:
    """Raise PolicyMismatch naming every difference between the checkpoint and the cell; moves nothing."""
    lay, norm = policy.layout, policy.loaded.normaliser
    diffs: list[str] = []
    hand_lim, arm_lim = cell.hand.limits, cell.arm.limits
    names = tuple(hand_lim.names) + tuple(arm_lim.names)
    if len(names) != len(lay.joint_names):
        diffs.append(f"joint count: checkpoint {len(lay.joint_names)}, cell {len(names)}")
    elif names != lay.joint_names:
        if sorted(names) == sorted(lay.joint_names):
            i = next(i for i, (a, b) in enumerate(zip(names, lay.joint_names, strict=True)) if a != b)
            diffs.append(
                f"joint order: index {i} is {lay.joint_names[i]!r} in the checkpoint, {names[i]!r} on the cell"
            )
        else:
            diffs.append(
                f"joint names: checkpoint only {sorted(set(lay.joint_names) - set(names))}, "
                f"cell only {sorted(set(names) - set(lay.joint_names))}"
            )
    rate_hz = 1.0 / float(cell.clock.period_s)
    if abs(rate_hz - lay.control_hz) > 1e-6 * lay.control_hz:
        diffs.append(f"control rate: checkpoint {lay.control_hz:g} Hz, cell {rate_hz:g} Hz")
    if lay.use_touch:
        try:
            shape = tuple(np.shape(cell.tactile.frame().force_n))
        except DexscrewError as exc:
            shape = f"unavailable ({exc})"  # type: ignore[assignment]
        if shape != tuple(lay.tactile_shape):
            diffs.append(f"tactile shape: checkpoint {tuple(lay.tactile_shape)}, cell {shape}")
    if not diffs:  # limits are compared per joint only once the joints are known to line up
        lower = np.concatenate([hand_lim.lower_rad, arm_lim.lower_rad])
        upper = np.concatenate([hand_lim.upper_rad, arm_lim.upper_rad])
        for i, name in enumerate(lay.joint_names):
            lo, hi = norm.action_min_rad[i], norm.action_max_rad[i]  # recorded, not the scaling range
            if lo < lower[i] - LIMIT_TOL_RAD or hi > upper[i] + LIMIT_TOL_RAD:
                diffs.append(
                    f"recorded action range of {name}: [{lo:.4f}, {hi:.4f}] rad lies outside the cell's limits "
                    f"[{lower[i]:.4f}, {upper[i]:.4f}]"
                )
    if diffs:
        raise PolicyMismatch(f"{policy.loaded.path} does not fit this cell (nothing was moved): " + "; ".join(diffs))


@dataclass
class RunReport:
    steps: int = 0
    plans: int = 0
    stale_dropped: int = 0
    empty_steps: int = 0
    arm_rate_limited_steps: int = 0
    infer_ms_p50: float = float("nan")
    infer_ms_p99: float = float("nan")
    clock_time_s: float = 0.0
    wall_time_s: float = 0.0
    fault: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PolicyRunner:
    """start() once, step() every control period (the caller advances the clock), stop() at the end."""

    def __init__(self, policy: BCPolicy, cell: Any, cfg: DeployConfig | None = None) -> None:
        self.policy, self.cell, self.cfg = policy, cell, cfg or DeployConfig()
        self.period_s = float(cell.clock.period_s)
        self.executor = ChunkExecutor(policy.layout.horizon, self.cfg.mode, self.cfg.execute, self.cfg.ensemble_k)
        if not 0.0 <= self.cfg.arm_smoothing < 1.0:
            raise PolicyMismatch(f"arm_smoothing must be in [0, 1), got {self.cfg.arm_smoothing}")
        self.arm_target: np.ndarray | None = None
        self.hand_target: np.ndarray | None = None
        self.infer_s: list[float] = []
        self.steps = 0
        self.rate_limited = 0

    def _step_now(self) -> int:
        return int(np.floor(self.cell.clock.now() / self.period_s + 1e-6))

    def _observe(self) -> tuple[np.ndarray, np.ndarray | None]:
        arm, hand = self.cell.arm.state(), self.cell.hand.state()
        for name, s in (("arm", arm), ("hand", hand)):
            if s.mode in FAULT_MODES:
                raise PolicyFault(f"{name} reports {DeviceMode(s.mode).name}")
        q = np.concatenate([hand.q_rad, arm.q_rad])
        tactile = self.cell.tactile.frame().force_n if self.policy.layout.use_touch else None
        return q, tactile

    def start(self) -> None:
        check_compatible(self.policy, self.cell)
        torch.set_num_threads(self.cfg.threads)
        q, tactile = self._observe()
        self.policy.reset(q, tactile)
        self.arm_target, self.hand_target = q[ARM_SLICE].copy(), q[HAND_SLICE].copy()  # smoother starts here

    def step(self) -> None:
        if self.arm_target is None or self.hand_target is None:
            raise PolicyFault("step() before start()")
        obs_step = self._step_now()
        q, tactile = self._observe()
        if self.steps > 0:  # start() already holds the first observation
            self.policy.observe(q, tactile)
        if self.executor.needs_plan(obs_step):
            t0 = time.perf_counter()
            chunk = self.policy.predict()
            self.infer_s.append(time.perf_counter() - t0)
            self.executor.add(chunk, obs_step)
        action = self.executor.action(self._step_now())  # the clock may have moved on during inference
        if action is not None:
            self._set_targets(action)
        self.cell.hand.command(self.hand_target)
        self.cell.arm.servo(self.arm_target)
        self.steps += 1

    def _set_targets(self, action: np.ndarray) -> None:
        hand_lim, arm_lim = self.cell.hand.limits, self.cell.arm.limits
        assert self.arm_target is not None
        s = self.cfg.arm_smoothing
        arm = s * self.arm_target + (1.0 - s) * action[ARM_SLICE]
        max_step = arm_lim.max_speed_rad_s * self.period_s
        limited = np.clip(arm, self.arm_target - max_step, self.arm_target + max_step)
        self.rate_limited += int(not np.array_equal(limited, arm))
        self.arm_target = arm_lim.clip(limited)
        self.hand_target = hand_lim.clip(action[HAND_SLICE])

    def stop(self) -> None:
        """Hold: the arm stops where it is, the hand keeps its current position."""
        _stop_devices(self.cell)

    def report(self) -> RunReport:
        ms = np.asarray(self.infer_s) * 1e3
        st = self.executor.stats
        return RunReport(
            steps=self.steps,
            plans=st.plans,
            stale_dropped=st.stale_dropped,
            empty_steps=st.empty_steps,
            arm_rate_limited_steps=self.rate_limited,
            infer_ms_p50=float(np.percentile(ms, 50)) if ms.size else float("nan"),
            infer_ms_p99=float(np.percentile(ms, 99)) if ms.size else float("nan"),
            clock_time_s=float(self.cell.clock.now()),
        )


def _stop_devices(cell: Any) -> list[str]:
    """Stop arm and hand, each even if the other fails; returns what could not be stopped."""
    failed = []
    for name in ("arm", "hand"):
        try:
            getattr(cell, name).stop()
        except DexscrewError as exc:
            failed.append(f"{name}: {exc}")
    return failed


def run_policy(
    cell: Any,
    policy: BCPolicy,
    duration_s: float,
    cfg: DeployConfig | None = None,
    on_step: Callable[[int], Any] | None = None,
) -> RunReport:
    """Start, one step per clock period for duration_s, stop. A device fault stops arm and hand and is
    reported in `RunReport.fault` (a mismatched checkpoint raises PolicyMismatch before anything moves)."""
    runner = PolicyRunner(policy, cell, cfg)
    runner.start()
    n = round(duration_s / runner.period_s)
    t0 = time.monotonic()
    fault = None
    try:
        for i in range(n):
            runner.step()
            if on_step is not None:
                on_step(i)
            cell.clock.wait()
    except DexscrewError as exc:  # a fault, a timeout, an e-stop or a rejected command: stop everything
        fault = f"{type(exc).__name__}: {exc}"
    finally:
        not_stopped = _stop_devices(cell)
    report = runner.report()
    report.wall_time_s = time.monotonic() - t0
    if fault is not None:
        report.fault = fault + ("" if not not_stopped else f" (could not stop: {'; '.join(not_stopped)})")
    return report
