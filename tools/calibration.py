"""Calibration of the hand: tactile zero (per-taxel bias) and joint offsets.

Both write the JSON files the XHand driver reads (`tactile_zero_file`,
`joint_offsets_file` in its node parameters) and work on any cell, so the
procedure can be rehearsed on a twin before touching the hardware.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import DexscrewError
from tools.atomic import write_json_atomic
from tools.sampling import collect

CONTACT_SUSPECT_N = 0.5  # a zero this large means something touched a pad during calibration
POSE_SPREAD_RAD = 0.01  # the hand must hold still while its offsets are measured


class CalibrationRefused(DexscrewError):
    """The measurement does not look like a valid calibration; nothing was written."""


@dataclass(frozen=True)
class TactileZero:
    zero_n: np.ndarray  # (5, 120, 3)
    noise_std_n: np.ndarray  # (5, 120, 3)
    frames: int


def measure_tactile_zero(cell: Cell, frames: int) -> TactileZero:
    def read() -> tuple[int, np.ndarray]:
        frame = cell.tactile.frame()
        return frame.seq, frame.force_n

    stack = collect(cell, read, frames)
    zero = stack.mean(axis=0)
    worst = np.unravel_index(int(np.abs(zero).argmax()), zero.shape)
    if abs(zero[worst]) > CONTACT_SUSPECT_N:
        tip = joints.FINGERTIP_NAMES[worst[0]]
        raise CalibrationRefused(
            f"{tip} taxel {worst[1]} axis {'xyz'[worst[2]]} reads {zero[worst]:.2f} N at rest: "
            "keep every fingertip free of contact during tactile calibration"
        )
    return TactileZero(zero, stack.std(axis=0), frames)


def measure_joint_offsets(cell: Cell, reference_rad: np.ndarray, frames: int) -> np.ndarray:
    """New offsets so that the hand reads `reference_rad` in the pose it is held in now."""

    def read() -> tuple[int, np.ndarray]:
        state = cell.hand.state()
        return state.seq, state.q_rad

    stack = collect(cell, read, frames)
    spread = stack.max(axis=0) - stack.min(axis=0)
    if (spread > POSE_SPREAD_RAD).any():
        j = int(spread.argmax())
        raise CalibrationRefused(
            f"{joints.HAND_JOINT_NAMES[j]} moved {spread[j]:.3f} rad while measuring: hold the hand still in the jig"
        )
    current = np.asarray(cell.hand.info().extra.get("joint_offsets_rad", np.zeros(joints.HAND_DOF)), dtype=float)
    return current + (reference_rad - stack.mean(axis=0))


def run_tactile_zero(cell: Cell, out: Path, frames: int) -> dict[str, Any]:
    z = measure_tactile_zero(cell, frames)
    write_json_atomic(
        out,
        {
            "tactile_zero_n": z.zero_n.tolist(),
            "noise_std_n": z.noise_std_n.tolist(),
            "frames": z.frames,
            "created_unix_s": time.time(),
            "tactile_model": cell.tactile.info().model,
        },
    )
    return {
        "file": str(out),
        "frames": z.frames,
        "max_abs_zero_n": float(np.abs(z.zero_n).max()),
        "max_noise_std_n": float(z.noise_std_n.max()),
    }


def run_joint_offsets(cell: Cell, out: Path, reference: list[float] | None, frames: int) -> dict[str, Any]:
    ref = np.zeros(joints.HAND_DOF) if reference is None else np.asarray(reference, dtype=float)
    if ref.shape != (joints.HAND_DOF,) or not np.isfinite(ref).all():
        raise CalibrationRefused(f"reference pose needs {joints.HAND_DOF} finite values, got {ref.tolist()}")
    offsets = measure_joint_offsets(cell, ref, frames)
    write_json_atomic(
        out,
        {
            "joint_offsets_rad": offsets.tolist(),
            "joint_names": list(joints.HAND_JOINT_NAMES),
            "reference_pose_rad": ref.tolist(),
            "frames": frames,
            "created_unix_s": time.time(),
        },
    )
    return {"file": str(out), "joint_offsets_rad": [round(x, 5) for x in offsets]}
