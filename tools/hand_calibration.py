"""Hand calibration (`dexscrew calibrate hand`): joint offsets from a jig, verified, written as a new revision.

1. Zero pose. The operator seats the hand in its jig, which holds
   every joint at known angles (`--jig`, 12 values in canonical order; default
   the zero pose). Once `--frames` successive readings agree within
   `POSE_SPREAD_RAD` they are averaged; a hand still moving after
   `STILL_TIMEOUT_S` is refused. New offset = offset applied now (the driver
   reports it) + jig angle - reading, i.e. canonical = raw + offset. An offset
   above `MAX_OFFSET_RAD` means a joint is not seated in the jig (or the jig
   angles are wrong): nothing is written and every such joint is named.
2. Verification. The operator takes the hand out of the jig. Each joint in
   turn goes to a known target (40 % of its range, the others open), once from
   below and once from above, each time from that end of its range (1 % of the
   range short of the limit: the most travel the joint has; play p on a joint of
   range r reads as min(p, r - 0.02 r - p) apart, so on the 0.35 rad index_bend
   play up to 0.26 rad is caught, where a 15 %-of-range approach missed 0.25), settling
   `SETTLE_S` and averaged over `AVERAGE_S` each time. A joint that stops more than
   `TRACKING_TOL_RAD` from its target, or whose two approaches differ by more than
   `BACKLASH_TOL_RAD` (backlash), is named, and nothing is written.
3. The offsets are written as a new revision of `--out` (the file the XHand
   driver's `joint_offsets_file` names); earlier revisions are kept. Restart
   the hand node to apply it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from tools import calibration_store
from tools.calibration_store import CalibrationRefused
from tools.progress import progress
from tools.prompts import instructions
from tools.sampling import collect

MAX_OFFSET_RAD = 0.3  # an XHand encoder offset is a few degrees; beyond ~17 deg the joint is not in the jig
POSE_SPREAD_RAD = 0.01  # the hand must hold still in the jig while it is measured
STILL_TIMEOUT_S = 10.0  # how long the hand may take to come to rest in the jig
SETTLE_S = 1.0
AVERAGE_S = 1.0
TRACKING_TOL_RAD = 0.1
BACKLASH_TOL_RAD = 0.08
TARGET_FRACTION, APPROACH_MARGIN_FRACTION = 0.4, 0.01


@dataclass(frozen=True)
class OffsetMeasurement:
    offsets_rad: np.ndarray  # the new offsets (canonical = raw + offset)
    applied_rad: np.ndarray  # the offsets the hand applied while measuring
    reading_rad: np.ndarray  # mean reading in the jig
    spread_rad: np.ndarray  # max - min per joint over the samples


@dataclass(frozen=True)
class JointCheck:
    joint: str
    target_rad: float
    from_below_rad: float
    from_above_rad: float
    status: str  # "ok" | "backlash" | "does not reach its target"

    @property
    def backlash_rad(self) -> float:
        return self.from_above_rad - self.from_below_rad

    def detail(self) -> str:
        return (
            f"{self.joint}: target {self.target_rad:.3f} rad, reads {self.from_below_rad:.3f} approached from below "
            f"and {self.from_above_rad:.3f} from above"
        )


def _hand_reading(cell: Cell) -> Callable[[], tuple[int, np.ndarray]]:
    def read() -> tuple[int, np.ndarray]:
        s = cell.hand.state()
        return s.seq, s.q_rad

    return read


def applied_offsets(cell: Cell) -> np.ndarray:
    """The joint offsets the hand applies now (the XHand driver and the twin report them)."""
    value = cell.hand.info().extra.get("joint_offsets_rad")
    return np.zeros(joints.HAND_DOF) if value is None else np.asarray(value, dtype=float)


def measure_offsets(cell: Cell, jig_rad: np.ndarray, frames: int) -> OffsetMeasurement:
    """Wait (up to STILL_TIMEOUT_S) until `frames` successive readings agree, then average them."""
    deadline = cell.clock.now() + STILL_TIMEOUT_S
    while True:
        stack = collect(cell, _hand_reading(cell), frames)
        spread = stack.max(axis=0) - stack.min(axis=0)
        if (spread <= POSE_SPREAD_RAD).all() or cell.clock.now() > deadline:
            break
    moving = [f"{joints.HAND_JOINT_NAMES[j]} ({spread[j]:.3f} rad)" for j in np.flatnonzero(spread > POSE_SPREAD_RAD)]
    if moving:
        raise CalibrationRefused(f"the hand moved while measuring: {', '.join(moving)}; hold it still in the jig")
    reading = stack.mean(axis=0)
    applied = applied_offsets(cell)
    offsets = applied + (jig_rad - reading)
    bad = [
        f"{joints.HAND_JOINT_NAMES[j]} {offsets[j]:+.3f} rad" for j in np.flatnonzero(np.abs(offsets) > MAX_OFFSET_RAD)
    ]
    if bad:
        raise CalibrationRefused(
            f"implausible joint offset (more than {MAX_OFFSET_RAD} rad): {', '.join(bad)}; check that the "
            "finger sits in the jig and that --jig gives the jig's angles. Nothing was written."
        )
    return OffsetMeasurement(offsets, applied, reading, spread)


def open_pose(cell: Cell) -> np.ndarray:
    return cell.hand.limits.clip(np.zeros(joints.HAND_DOF))


def _hold(cell: Cell, q: np.ndarray, seconds: float) -> np.ndarray:
    """Stream `q` for `seconds` of the cell's clock; the readings of the last AVERAGE_S of it."""
    n = max(1, round(seconds * cell.config.control_hz))
    keep = max(1, round(AVERAGE_S * cell.config.control_hz))
    seen: list[np.ndarray] = []
    for _ in cell.clock.ticks(n):
        cell.hand.command(q)
        seen.append(cell.hand.state().q_rad)
    return np.stack(seen[-keep:])


def verify_joint(cell: Cell, j: int, base: np.ndarray) -> JointCheck:
    lo, hi = cell.hand.limits.lower_rad[j], cell.hand.limits.upper_rad[j]
    span = hi - lo
    target = base.copy()
    target[j] = lo + TARGET_FRACTION * span
    reads = []
    for start in (lo + APPROACH_MARGIN_FRACTION * span, hi - APPROACH_MARGIN_FRACTION * span):
        approach = target.copy()
        approach[j] = start
        _hold(cell, approach, SETTLE_S)
        reads.append(float(_hold(cell, target, SETTLE_S + AVERAGE_S)[:, j].mean()))
    below, above = reads
    status = "ok"
    if abs(above - below) > BACKLASH_TOL_RAD:
        status = "backlash"
    elif abs((above + below) / 2 - target[j]) > TRACKING_TOL_RAD:
        status = "does not reach its target"
    return JointCheck(joints.HAND_JOINT_NAMES[j], float(target[j]), below, above, status)


def verify(cell: Cell, show_progress: bool = True) -> list[JointCheck]:
    base = open_pose(cell)
    _hold(cell, base, SETTLE_S)
    checks = [verify_joint(cell, j, base) for j in progress(range(joints.HAND_DOF), "verifying joints", show_progress)]
    _hold(cell, base, SETTLE_S)
    return checks


def calibrate(
    cell: Cell,
    out: Path,
    jig_rad: np.ndarray,
    frames: int,
    confirm: Callable[[str], None],
    show_progress: bool = True,
) -> dict[str, Any]:
    """The whole procedure; `confirm(instruction)` returns once the operator has done what it says."""
    jig = np.asarray(jig_rad, dtype=float)
    if jig.shape != (joints.HAND_DOF,) or not np.isfinite(jig).all():
        raise CalibrationRefused(f"--jig needs {joints.HAND_DOF} finite angles in canonical order, got {jig.tolist()}")
    cell.hand.limits.check_position(jig, "jig angles")
    confirm(
        f"Seat the hand in its jig (no command is sent while it is measured): {np.round(jig, 3).tolist()} rad "
        f"({', '.join(joints.HAND_JOINT_NAMES)}). Keep it still."
    )
    m = measure_offsets(cell, jig, frames)
    confirm("Take the hand out of the jig and keep the fingers free: each joint will move in turn.")
    checks = verify(cell, show_progress)
    failed = [c for c in checks if c.status != "ok"]
    report: dict[str, Any] = {
        "joint_offsets_rad": {
            n: round(float(v), 5) for n, v in zip(joints.HAND_JOINT_NAMES, m.offsets_rad, strict=True)
        },
        "changed_rad": {
            n: round(float(v), 5) for n, v in zip(joints.HAND_JOINT_NAMES, m.offsets_rad - m.applied_rad, strict=True)
        },
        "verification": [asdict(c) | {"backlash_rad": round(c.backlash_rad, 4)} for c in checks],
        "tolerances": {
            "backlash_rad": BACKLASH_TOL_RAD,
            "tracking_rad": TRACKING_TOL_RAD,
            "max_offset_rad": MAX_OFFSET_RAD,
        },
    }
    if failed:
        raise CalibrationRefused(
            "verification failed, nothing was written: " + "; ".join(f"{c.status}: {c.detail()}" for c in failed)
        )
    written = calibration_store.write_revision(
        out,
        cf.HAND_JOINT_OFFSETS,
        {"joint_offsets_rad": m.offsets_rad},
        cell.hand.info().model,
        {
            "jig_rad": jig.tolist(),
            "frames": frames,
            "spread_rad": m.spread_rad.tolist(),
            "verification": report["verification"],
        },
    )
    return {"ok": True, "file": written.identity(), **report}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="current calibration path the XHand driver reads")
    p.add_argument(
        "--jig", "--reference", dest="jig", type=float, nargs=joints.HAND_DOF, metavar="RAD",
        help="the jig's joint angles in canonical order (default: the zero pose)",
    )  # fmt: skip
    p.add_argument("--frames", type=int, default=50, help="samples averaged in the jig")
    p.add_argument("--yes", action="store_true", help="do not wait for Enter at each step (the hand is ready)")


def run(args: argparse.Namespace) -> int:
    if args.frames < 2:
        raise CalibrationRefused(f"--frames {args.frames}: need at least 2 samples")
    jig = np.zeros(joints.HAND_DOF) if args.jig is None else np.asarray(args.jig, dtype=float)

    confirm = instructions(wait=not args.yes)

    with Cell.connect(args.config, args.overrides) as cell:
        result = calibrate(cell, args.out, jig, args.frames, confirm)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("hand", argv)


if __name__ == "__main__":
    sys.exit(main())
