"""StepRecord -> one binary row: validation, late/missing marking, silent-source detection, summaries."""

from __future__ import annotations

from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.recording.errors import StepRecordError
from dexscrew_sdk.recording.schema import (
    ARM_SLICE,
    HAND_SLICE,
    LATE,
    MISSING,
    SOURCES,
    STEP_DTYPE,
    ControlEvent,
    EpisodeMeta,
    StepRecord,
)

_NAN = np.float32("nan")


def _vector(value: object, shape: tuple[int, ...], name: str, finite: bool) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        kind = type(value).__name__
        raise StepRecordError(f"StepRecord.{name} must be numeric with shape {shape}, got {kind}") from None
    if arr.shape != shape:
        raise StepRecordError(f"StepRecord.{name} must have shape {shape}, got {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise StepRecordError(f"StepRecord.{name} holds non-finite values; record what was in effect, finite")
    return arr


def _loose(value: object, shape: tuple[int, ...]) -> np.ndarray:
    """A rejected command as far as it can be represented (it was rejected for being malformed)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape == shape:
            return arr
    except (TypeError, ValueError):
        pass
    return np.full(shape, np.nan)


class RowBuilder:
    """Fills the row of each step and keeps the per-source state that lateness and silence need."""

    def __init__(self, meta: EpisodeMeta, source_timeout_s: float) -> None:
        self.period_ns = round(1e9 / meta.control_hz)
        self.timeout_ns = round(source_timeout_s * 1e9)
        self.expected = tuple(s for s in SOURCES if s in meta.sources)
        self.n_rows = 0
        self._row = np.zeros((), STEP_DTYPE)
        self._last_index: int | None = None
        self._last_stamp = 0
        self._newest_ns: dict[str, int] = {}  # newest sample stamp seen per source (or first step stamp)

    def build(self, s: StepRecord) -> np.ndarray:
        if not isinstance(s, StepRecord):
            raise StepRecordError(f"append() takes a StepRecord, got {type(s).__name__}")
        if not isinstance(s.step_index, (int, np.integer)) or s.step_index < 0:
            raise StepRecordError(f"StepRecord.step_index must be a non-negative int, got {s.step_index!r}")
        if self._last_index is not None and s.step_index <= self._last_index:
            raise StepRecordError(f"StepRecord.step_index {s.step_index} does not follow {self._last_index}")
        if not isinstance(s.stamp_ns, (int, np.integer)) or s.stamp_ns <= 0 or s.stamp_ns < self._last_stamp:
            raise StepRecordError(f"StepRecord.stamp_ns must be a positive, non-decreasing int, got {s.stamp_ns!r}")
        r = self._row
        r[...] = 0
        r["step_index"], r["stamp_ns"], r["clock_time_s"] = s.step_index, s.stamp_ns, s.clock_time_s
        r["action_rad"][HAND_SLICE] = _vector(s.hand_target_rad, (joints.HAND_DOF,), "hand_target_rad", True)
        r["action_rad"][ARM_SLICE] = _vector(s.arm_target_rad, (joints.ARM_DOF,), "arm_target_rad", True)
        r["hand_cmd_seq"], r["arm_cmd_seq"] = s.hand_cmd_seq, s.arm_cmd_seq
        events = ControlEvent(int(s.control_events))
        r["rejected_target_rad"] = _NAN
        if s.hand_rejected_target_rad is not None:
            r["rejected_target_rad"][HAND_SLICE] = _loose(s.hand_rejected_target_rad, (joints.HAND_DOF,))
            events |= ControlEvent.HAND_REJECTED
        if s.arm_rejected_target_rad is not None:
            r["rejected_target_rad"][ARM_SLICE] = _loose(s.arm_rejected_target_rad, (joints.ARM_DOF,))
            events |= ControlEvent.ARM_REJECTED
        flags = 0
        if s.arm is None:
            r["q_rad"][ARM_SLICE] = r["arm_qd_rad_s"] = r["arm_tcp_pose"] = r["arm_tcp_force_n"] = _NAN
            r["arm_seq"] = -1
            flags |= MISSING["arm"] if "arm" in self.expected else 0
        else:
            a = s.arm
            r["q_rad"][ARM_SLICE] = _vector(a.q_rad, (joints.ARM_DOF,), "arm.q_rad", False)
            r["arm_qd_rad_s"] = _vector(a.qd_rad_s, (joints.ARM_DOF,), "arm.qd_rad_s", False)
            r["arm_tcp_pose"] = _vector(a.tcp_pose, (6,), "arm.tcp_pose", False)
            r["arm_tcp_force_n"] = _vector(a.tcp_force_n, (6,), "arm.tcp_force_n", False)
            r["arm_stamp_ns"], r["arm_seq"], r["arm_mode"] = a.stamp_ns, a.seq, int(a.mode)
            flags |= LATE["arm"] if s.stamp_ns - a.stamp_ns > self.period_ns else 0
        if s.hand is None:
            r["q_rad"][HAND_SLICE] = r["hand_torque_nm"] = _NAN
            r["hand_seq"] = -1
            flags |= MISSING["hand"] if "hand" in self.expected else 0
        else:
            h = s.hand
            r["q_rad"][HAND_SLICE] = _vector(h.q_rad, (joints.HAND_DOF,), "hand.q_rad", False)
            r["hand_torque_nm"] = _vector(h.torque_nm, (joints.HAND_DOF,), "hand.torque_nm", False)
            r["hand_stamp_ns"], r["hand_seq"], r["hand_mode"] = h.stamp_ns, h.seq, int(h.mode)
            flags |= LATE["hand"] if s.stamp_ns - h.stamp_ns > self.period_ns else 0
        if s.tactile is None:
            r["tactile_force_n"] = _NAN
            r["tactile_seq"] = -1
            flags |= MISSING["tactile"] if "tactile" in self.expected else 0
        else:
            t = s.tactile
            r["tactile_force_n"] = _vector(t.force_n, joints.TACTILE_SHAPE, "tactile.force_n", False)
            r["tactile_stamp_ns"], r["tactile_seq"] = t.stamp_ns, t.seq
            flags |= LATE["tactile"] if s.stamp_ns - t.stamp_ns > self.period_ns else 0
        r["sample_flags"] = flags
        r["skill_on"], r["clutch"], r["speed_scale"] = bool(s.skill_on), bool(s.clutch), s.speed_scale
        r["control_events"], r["operator_events"] = int(events), int(s.operator_events)
        if s.progress is None:
            r["progress_ratio"] = r["turns_done"] = _NAN
        else:
            r["progress_ratio"], r["turns_done"] = s.progress.ratio, s.progress.turns_done
        return r

    def commit(self, s: StepRecord) -> None:
        """The row is in the log: advance the episode's state."""
        self.n_rows += 1
        self._last_index, self._last_stamp = int(s.step_index), int(s.stamp_ns)
        for name in self.expected:
            sample = getattr(s, name)
            stamp = sample.stamp_ns if sample is not None else 0
            self._newest_ns[name] = max(self._newest_ns.get(name, s.stamp_ns), stamp)

    def silence_s(self, source: str, now_ns: int) -> float:
        return (now_ns - self._newest_ns.get(source, now_ns)) / 1e9

    def stopped_sources(self, now_ns: int) -> tuple[str, ...]:
        return tuple(s for s in self.expected if now_ns - self._newest_ns.get(s, now_ns) > self.timeout_ns)


def summarise(rows: np.ndarray, meta: dict[str, Any]) -> dict[str, Any]:
    """Per-episode figures stored in the metadata and the index."""
    n = len(rows)
    hz = float(meta["control_hz"])
    out: dict[str, Any] = {"n_steps": n, "duration_s": n / hz}
    if n:
        idx = rows["step_index"]
        out["first_step_index"], out["last_step_index"] = int(idx[0]), int(idx[-1])
        out["missing_steps"] = int(idx[-1] - idx[0] + 1 - n)
        out["measured_duration_s"] = float((rows["stamp_ns"][-1] - rows["stamp_ns"][0]) / 1e9)
        out["skill_on_fraction"] = float(rows["skill_on"].mean())
    else:
        out.update(first_step_index=None, last_step_index=None, missing_steps=0, measured_duration_s=0.0)
        out["skill_on_fraction"] = 0.0
    flags = rows["sample_flags"]
    out["late_samples"] = {s: int(np.count_nonzero(flags & LATE[s])) for s in SOURCES}
    out["missing_samples"] = {s: int(np.count_nonzero(flags & MISSING[s])) for s in SOURCES}
    out["steps_with_late_or_missing"] = int(np.count_nonzero(flags))
    return out
