"""What one recorded control step and one episode hold: records, flags and the row layout.

A step is written as one fixed-size binary row (`STEP_DTYPE`); its layout is
stored in every log header and episode file, so files describe themselves.
Joint vectors use the canonical orders of `dexscrew_sdk.joints`; actions and
joint positions are [hand 12, arm 6].
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.recording.errors import StepRecordError
from dexscrew_sdk.records import ArmState, HandState, TactileFrame, TaskProgress

FORMAT_VERSION = 1
ACTION_DIM = joints.HAND_DOF + joints.ARM_DOF  # 18: [hand 12, arm 6]
HAND_SLICE = slice(0, joints.HAND_DOF)
ARM_SLICE = slice(joints.HAND_DOF, ACTION_DIM)
ACTION_NAMES: tuple[str, ...] = tuple(f"hand.{n}" for n in joints.HAND_JOINT_NAMES) + tuple(
    f"arm.{n}" for n in joints.ARM_JOINT_NAMES
)
SOURCES: tuple[str, ...] = ("arm", "hand", "tactile")


class SampleFlag(enum.IntFlag):
    """Per step and source: how the sample relates to the step time (never padded)."""

    ARM_LATE = 1  # newest arm sample older than one control period at the step time
    HAND_LATE = 2
    TACTILE_LATE = 4
    ARM_MISSING = 8  # no sample at all: values are NaN, seq -1, stamp 0
    HAND_MISSING = 16
    TACTILE_MISSING = 32


LATE = {"arm": SampleFlag.ARM_LATE, "hand": SampleFlag.HAND_LATE, "tactile": SampleFlag.TACTILE_LATE}
MISSING = {"arm": SampleFlag.ARM_MISSING, "hand": SampleFlag.HAND_MISSING, "tactile": SampleFlag.TACTILE_MISSING}


class ControlEvent(enum.IntFlag):
    """What the control layer did to the operator's command this step."""

    NONE = 0
    IK_FAILED = 1  # no IK solution: the arm target in effect is the previous one
    WORKSPACE_LIMIT = 2
    JOINT_LIMIT = 4
    SPEED_LIMIT = 8
    ACCEL_LIMIT = 16
    HAND_REJECTED = 32  # the safety layer rejected the hand command (see rejected_target_rad)
    ARM_REJECTED = 64
    LOOP_OVERRUN = 128  # the control loop missed its deadline before this step


class OperatorEvent(enum.IntFlag):
    """Operator inputs that happened at this step."""

    NONE = 0
    SKILL_START = 1
    SKILL_STOP = 2
    CLUTCH_PRESS = 4
    CLUTCH_RELEASE = 8
    GRASP_PRESET = 16
    RELEASE_PRESET = 32
    MARK_SUCCESS = 64
    MARK_FAILURE = 128
    EPISODE_START = 256
    EPISODE_END = 512
    RERECORD = 1024
    DISCARD = 2048


# One row per control step. Units are in the names; (n,) are per-joint vectors.
STEP_FIELDS: tuple[tuple[str, str, tuple[int, ...], str], ...] = (
    ("step_index", "<i8", (), "control step number in the episode (gaps = steps with no row)"),
    ("stamp_ns", "<i8", (), "control step time, time.monotonic_ns() of the controller"),
    ("clock_time_s", "<f8", (), "the cell clock's time at the step (simulated time in lockstep)"),
    ("action_rad", "<f4", (ACTION_DIM,), "[hand 12, arm 6] joint targets in effect after this step's commands"),
    ("rejected_target_rad", "<f4", (ACTION_DIM,), "targets the safety layer rejected this step, NaN elsewhere"),
    ("hand_cmd_seq", "<i8", (), "seq of the hand command in effect (-1: none yet)"),
    ("arm_cmd_seq", "<i8", (), "seq of the arm command in effect (-1: none yet)"),
    ("q_rad", "<f4", (ACTION_DIM,), "[hand 12, arm 6] measured joint positions"),
    ("arm_qd_rad_s", "<f4", (joints.ARM_DOF,), "measured arm joint velocities"),
    ("arm_tcp_pose", "<f4", (6,), "tool pose: x, y, z [m], rotation vector [rad], base frame"),
    ("arm_tcp_force_n", "<f4", (6,), "tool wrench: fx, fy, fz [N], tx, ty, tz [N m]"),
    ("hand_torque_nm", "<f4", (joints.HAND_DOF,), "measured hand joint torques"),
    ("tactile_force_n", "<f4", joints.TACTILE_SHAPE, "fingertip x taxel x (fx, fy, fz) forces"),
    ("arm_stamp_ns", "<i8", (), "producer stamp of the arm sample (0: missing)"),
    ("hand_stamp_ns", "<i8", (), "producer stamp of the hand sample (0: missing)"),
    ("tactile_stamp_ns", "<i8", (), "producer stamp of the tactile sample (0: missing)"),
    ("arm_seq", "<i8", (), "producer sequence number of the arm sample (-1: missing)"),
    ("hand_seq", "<i8", (), "producer sequence number of the hand sample (-1: missing)"),
    ("tactile_seq", "<i8", (), "producer sequence number of the tactile sample (-1: missing)"),
    ("arm_mode", "u1", (), "DeviceMode the arm reported"),
    ("hand_mode", "u1", (), "DeviceMode the hand reported"),
    ("sample_flags", "u1", (), "SampleFlag bits: late / missing per source"),
    ("skill_on", "u1", (), "1 while the finger skill owns the hand"),
    ("clutch", "u1", (), "1 while the operator's clutch is engaged"),
    ("speed_scale", "<f4", (), "operator speed scale"),
    ("control_events", "<u2", (), "ControlEvent bits"),
    ("operator_events", "<u2", (), "OperatorEvent bits"),
    ("progress_ratio", "<f4", (), "world ground-truth progress in [0, 1] (twins; NaN on real cells)"),
    ("turns_done", "<f4", (), "world ground-truth turns (twins; NaN on real cells)"),
)
STEP_DTYPE = np.dtype([(name, dt, shape) for name, dt, shape, _ in STEP_FIELDS])
FIELD_DOC: dict[str, str] = {name: doc for name, _, _, doc in STEP_FIELDS}


@dataclass(slots=True)
class StepRecord:
    """One control step as the session saw it; `None` for a source means no sample (missing).

    `hand_target_rad`/`arm_target_rad` are the commands IN EFFECT after this step:
    what was sent, or, when the safety layer rejected it, the previous command,
    with the rejected one in `*_rejected_target_rad`.
    """

    step_index: int
    stamp_ns: int
    hand_target_rad: np.ndarray
    arm_target_rad: np.ndarray
    arm: ArmState | None
    hand: HandState | None
    tactile: TactileFrame | None
    clock_time_s: float = float("nan")
    hand_cmd_seq: int = -1
    arm_cmd_seq: int = -1
    hand_rejected_target_rad: np.ndarray | None = None
    arm_rejected_target_rad: np.ndarray | None = None
    skill_on: bool = False
    clutch: bool = False
    speed_scale: float = 1.0
    control_events: ControlEvent = ControlEvent.NONE
    operator_events: OperatorEvent = OperatorEvent.NONE
    progress: TaskProgress | None = None


@dataclass
class EpisodeMeta:
    """What the session knows about an episode before it starts (the recorder adds the rest)."""

    task: str
    shape: str
    cell: str  # cell configuration name, e.g. "twin"
    cell_kind: str  # "twin" | "real" | "hil" | "reference" | "synthetic"
    control_hz: float
    cell_config_hash: str = ""
    # calibration files in use: calibration_files.file_identity(path) dicts ({"path", "sha256", ...})
    calibration_files: list[dict[str, Any]] = field(default_factory=list)
    software_version: str = ""  # filled by the recorder when empty
    git_commit: str = ""  # filled by the recorder when empty
    seed: int | None = None  # the twin's scene seed
    operator_device: str = ""
    operator_params: dict[str, Any] = field(default_factory=dict)
    randomisation: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=lambda: list(SOURCES))  # sources this cell must publish
    # the finger skill in use: skills.choice.SkillChoice.identity() ({"choice", "kind", "path", "sha256", ...})
    skill: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        for name in ("task", "shape", "cell", "cell_kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise StepRecordError(f"EpisodeMeta.{name} must be a non-empty string, got {value!r}")
        if not (isinstance(self.control_hz, (int, float)) and np.isfinite(self.control_hz) and self.control_hz > 0):
            raise StepRecordError(f"EpisodeMeta.control_hz must be a positive number, got {self.control_hz!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise StepRecordError(f"EpisodeMeta.seed must be an int or None, got {self.seed!r}")
        unknown = set(self.sources) - set(SOURCES)
        if unknown:
            raise StepRecordError(f"EpisodeMeta.sources: unknown {sorted(unknown)}; known: {list(SOURCES)}")
        if self.skill and not (isinstance(self.skill.get("path"), str) and isinstance(self.skill.get("sha256"), str)):
            raise StepRecordError(f"EpisodeMeta.skill must name the skill's 'path' and 'sha256', got {self.skill!r}")
        for f in self.calibration_files:
            if not (isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)):
                raise StepRecordError(
                    f"EpisodeMeta.calibration_files items must be dicts with 'path' and 'sha256', got {f!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dtype_descr(dtype: np.dtype = STEP_DTYPE) -> list[list[Any]]:
    """A JSON-safe description of a row layout (round-trips through `dtype_from_descr`)."""
    return [[name, dtype.fields[name][0].base.str, list(dtype.fields[name][0].shape)] for name in dtype.names or ()]


def dtype_from_descr(descr: list[list[Any]]) -> np.dtype:
    return np.dtype([(str(n), str(dt), tuple(int(s) for s in shape)) for n, dt, shape in descr])


def config_hash(data: bytes | str) -> str:
    """Stable identity of a cell configuration (hash of its text)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def calibration_files_of(devices: Iterable[Any]) -> list[dict[str, Any]]:
    """The calibration files the cell's devices report in `info().extra["calibration"]`
    ({kind: {"path", "sha256", ...}}), as `EpisodeMeta.calibration_files` entries."""
    files: list[dict[str, Any]] = []
    for dev in devices:
        info = dev.info()
        for kind, identity in sorted((info.extra.get("calibration") or {}).items()):
            if isinstance(identity, dict) and "path" in identity and "sha256" in identity:
                files.append({"device": info.kind, "kind": kind, **identity})
    return files
