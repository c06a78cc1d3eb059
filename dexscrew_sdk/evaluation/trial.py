"""One evaluation trial on a cell: a fresh scene, a method driving arm and hand, ground truth from the World.

Plain application code on `Cell`, so it runs on any twin node, in-process or
remote. The method is a small strategy object (`Method`); the trial owns the
clock, the progress read-out, the perturbation schedule and the outcome.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dexscrew_sdk.evaluation.results import TrialResult, TrialSpec
from dexscrew_sdk.records import TaskProgress

# Randomised scenes (the twin's DEFAULT_RANDOMISATION, drawn from the trial's seed).
RANDOMISED: dict[str, Any] = {"enabled": True}
PERTURB_AT_RATIO = 0.5
PERTURB_AT_S = 30.0
RECOVERY_WINDOW_S = 30.0
RECOVERY_TURNS = 0.5
FAILURE_FLAGS: tuple[str, ...] = ("dropped", "unseated", "stalled")  # World flags, most specific first
PROGRESS_EVERY_S = 0.25  # ground truth read-out period (an RPC); time to fastening is this exact


class TrialCell(Protocol):
    """What a trial and its method use of `dexscrew_sdk.cell.Cell`."""

    @property
    def arm(self) -> Any: ...
    @property
    def hand(self) -> Any: ...
    @property
    def tactile(self) -> Any: ...
    @property
    def world(self) -> Any: ...
    @property
    def clock(self) -> Any: ...


class Method(Protocol):
    """A way of doing the task: told the trial's spec at start, then one step per control period."""

    name: str

    def start(self, cell: TrialCell, spec: TrialSpec) -> None: ...

    def step(self, cell: TrialCell) -> None:
        """Send this period's arm and hand commands (the trial advances the clock)."""

    def stop(self, cell: TrialCell) -> None: ...

    @property
    def skill_on(self) -> bool:
        """Whether the finger-rotation skill drives the hand right now (marked in the touch plots)."""


def progress_ratio(p: TaskProgress) -> float:
    """Fastening turns done / turns required, in [0, 1]: an object turned backwards has made no progress."""
    return max(0.0, p.ratio)


def failure_reason(p: TaskProgress) -> str:
    for flag in FAILURE_FLAGS:
        if getattr(p, flag, False):
            return flag
    return "timeout"


def trace_path(trace_dir: Path, spec: TrialSpec) -> Path:
    return Path(trace_dir) / (spec.key.replace("/", "__") + ".npz")


def run_trial(
    cell: TrialCell,
    method: Method,
    spec: TrialSpec,
    *,
    control_hz: float = 20.0,
    trace_dir: Path | None = None,
) -> TrialResult:
    """Reset to the spec's seeded scene, run the method until fastened, the time limit or (perturbation
    trials) the recovery decision; returns the outcome. Device errors propagate (the runner decides)."""
    t0 = time.monotonic()
    cell.world.reset(spec.task, spec.shape, seed=spec.seed, randomisation=RANDOMISED)
    max_s = spec.max_time_s
    if spec.perturbation is not None:
        max_s = max(max_s, PERTURB_AT_S + RECOVERY_WINDOW_S)
    steps = round(max_s * control_hz)
    every = max(1, round(PROGRESS_EVERY_S * control_hz))
    result = TrialResult(spec)
    trace: list[list[float]] = []
    touch: dict[str, list[np.ndarray]] = {"thumb": [], "index": []}
    t_touch: list[float] = []
    skill: list[bool] = []
    method.start(cell, spec)
    p = cell.world.progress()
    trace.append([p.time_s, progress_ratio(p)])
    try:
        for i in range(steps):
            method.step(cell)
            cell.clock.wait()
            if spec.trace:
                f = cell.tactile.frame().force_n
                touch["thumb"].append(np.array(f[0, :, 2], dtype=np.float32))
                touch["index"].append(np.array(f[1, :, 2], dtype=np.float32))
                t_touch.append((i + 1) / control_hz)
                skill.append(bool(method.skill_on))
            if (i + 1) % every and i + 1 < steps:
                continue
            p = cell.world.progress()
            trace.append([round(p.time_s, 3), round(progress_ratio(p), 4)])
            if p.fastened and result.time_to_fasten_s is None:
                result.time_to_fasten_s = p.time_s
                if spec.perturbation is None or result.recovered is not None:
                    break
            if _perturbation(cell, spec, result, p):
                break
    finally:
        method.stop(cell)
    if result.perturbed_at_s is not None and result.recovered is None:
        result.recovered = False  # the time limit ended the recovery window
    result.turns_done, result.turns_required = p.turns_done, p.turns_required
    result.progress_ratio, result.sim_time_s = progress_ratio(p), p.time_s
    result.success = result.time_to_fasten_s is not None
    result.failure_reason = None if result.success else failure_reason(p)
    result.progress_trace = trace
    result.wall_s = time.monotonic() - t0
    if spec.trace and trace_dir is not None and t_touch:
        path = trace_path(trace_dir, spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            t_s=np.array(t_touch),
            thumb_normal_n=np.stack(touch["thumb"]),
            index_normal_n=np.stack(touch["index"]),
            skill_on=np.array(skill),
            progress=np.array(trace),
        )
    return result


def _perturbation(cell: TrialCell, spec: TrialSpec, result: TrialResult, p: TaskProgress) -> bool:
    """Apply the perturbation when due, then judge recovery; True once the trial has its answer."""
    if spec.perturbation is None:
        return False
    if result.perturbed_at_s is None:
        if progress_ratio(p) >= PERTURB_AT_RATIO or p.time_s >= PERTURB_AT_S:
            result.perturbed_at_s, result.turns_before_perturbation = p.time_s, p.turns_done
            cell.world.perturb(spec.perturbation)
        return False
    before = result.turns_before_perturbation or 0.0
    if p.turns_done >= before + RECOVERY_TURNS or p.fastened:
        result.recovered, result.recovery_time_s = True, p.time_s - result.perturbed_at_s
        return True
    if p.time_s - result.perturbed_at_s >= RECOVERY_WINDOW_S:
        result.recovered = False
        return True
    return False
