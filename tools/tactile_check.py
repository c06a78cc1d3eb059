"""Tactile check: is every fingertip pad alive, quiet at rest and responsive to touch?

At rest each pad must read below the detection threshold after zeroing; with
`--press FINGER` the operator presses that fingertip and the check passes when
the pad reports a normal force above `--min-press-n` while the others stay quiet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from tools.sampling import collect


@dataclass(frozen=True)
class PadReport:
    fingertip: str
    max_normal_n: float
    mean_abs_n: float
    active_taxels: int  # taxels above the threshold in the strongest frame
    stuck_taxels: int  # non-zero and never changing over the whole window

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def pad_reports(stack: np.ndarray) -> list[PadReport]:
    """Per-fingertip summary of a (frames, 5, 120, 3) window."""
    reports = []
    normal = stack[..., 2]
    for tip, name in enumerate(joints.FINGERTIP_NAMES):
        per_frame = normal[:, tip, :].sum(axis=1)
        strongest = int(per_frame.argmax())
        tip_stack = stack[:, tip]
        stuck = (np.ptp(tip_stack, axis=0) == 0) & (tip_stack[0] != 0)
        reports.append(
            PadReport(
                fingertip=name,
                max_normal_n=float(per_frame.max()),
                mean_abs_n=float(np.abs(tip_stack).mean()),
                active_taxels=int((np.abs(normal[strongest, tip]) > joints.TACTILE_THRESHOLD_N).sum()),
                stuck_taxels=int(stuck.any(axis=-1).sum()),
            )
        )
    return reports


def run(cell: Cell, frames: int, press: str | None, min_press_n: float) -> dict[str, Any]:
    def read() -> tuple[int, np.ndarray]:
        frame = cell.tactile.frame()
        return frame.seq, frame.force_n

    stack = collect(cell, read, frames)
    reports = pad_reports(stack)
    problems = [f"{r.fingertip}: {r.stuck_taxels} stuck taxels" for r in reports if r.stuck_taxels]
    for r in reports:
        pressed = r.fingertip == press
        if pressed and r.max_normal_n < min_press_n:
            problems.append(f"{r.fingertip}: pressed but peak normal force {r.max_normal_n:.3f} N < {min_press_n} N")
        if not pressed and r.active_taxels > 0 and press is not None:
            problems.append(f"{r.fingertip}: {r.active_taxels} taxels active although only {press} was pressed")
        if press is None and r.active_taxels > 0:
            problems.append(f"{r.fingertip}: {r.active_taxels} taxels above {joints.TACTILE_THRESHOLD_N} N at rest")
    return {"frames": frames, "pads": [r.to_dict() for r in reports], "ok": not problems, "problems": problems}
