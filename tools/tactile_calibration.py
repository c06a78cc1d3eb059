"""Tactile calibration (`dexscrew calibrate tactile`): unloaded baseline and noise floor of every taxel.

With every fingertip free, `--frames` frames are recorded. Per taxel and axis:
baseline = the baseline the sensor applies now + the mean reading, noise floor
= the standard deviation about a straight line in time (a pad drifting during
the recording is not noisy). Refused (nothing written, the taxels named):

- noise: a noise floor above `NOISE_MAX_N` (0.05 N, the sensor's detection threshold);
- local load: a taxel whose normal reading differs from its pad's median by more than
  `LOCAL_MAX_N` (0.5 N): something touches it, or it is stuck or saturated;
- a whole pad reading more than `PAD_MAX_N` (2 N): something rests on it;
- a pad whose mean normal reading changes faster than `RATE_MAX_N_S` (0.3 N/s)
  during the recording: something touches it (drift is far slower).

A uniform offset across a pad is what drift looks like and is what a baseline
removes. Drift since the last calibration (the previous revision of `--out`)
is reported per pad as the mean change of the normal baseline; a pad whose
baseline moved more than `DRIFT_TOL_N` is named. The file is the one the
tactile sensor applies (the XHand driver's `tactile_zero_file`); a new revision
is written each time, the old ones kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from tools import calibration_store
from tools.calibration_store import CalibrationRefused
from tools.prompts import instructions
from tools.sampling import collect
from tools.taxels import name_taxels

NOISE_MAX_N = 0.05
LOCAL_MAX_N = 0.5
PAD_MAX_N = 2.0
DRIFT_TOL_N = 0.05
RATE_MAX_N_S = 0.3  # a pad's baseline drifts by far less per second; a touch changes it faster


def applied_baseline(cell: Cell) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The baseline the sensor subtracts now, from the file it reports (zeros when it reports none)."""
    identity = cell.tactile.info().extra.get("calibration", {}).get(cf.TACTILE_BASELINE)
    if identity is None:
        return np.zeros(joints.TACTILE_SHAPE), None
    current = cf.load_tactile_baseline(identity["path"])
    if current.sha256 != identity["sha256"]:
        raise CalibrationRefused(
            f"the sensor applies {identity['path']} as it was when it started; the file has changed since "
            "(sha256 differs): restart the hand node, then calibrate"
        )
    return current.arrays["baseline_n"], identity


def record(cell: Cell, frames: int) -> np.ndarray:
    def read() -> tuple[int, np.ndarray]:
        f = cell.tactile.frame()
        return f.seq, f.force_n

    return collect(cell, read, frames)


def trend(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per taxel and axis: the slope of a straight line through the frames (per frame) and the standard
    deviation about it, the noise floor (a slow drift is not noise)."""
    t = np.arange(len(stack), dtype=float)
    t -= t.mean()
    centred = stack - stack.mean(axis=0)
    slope = np.tensordot(t, centred, axes=1) / float(t @ t)
    return slope, (centred - t[:, None, None, None] * slope).std(axis=0)


def noise_floor(stack: np.ndarray) -> np.ndarray:
    return trend(stack)[1]


def check_at_rest(mean_n: np.ndarray, std_n: np.ndarray, slope_n_s: np.ndarray) -> None:
    """Refuse a recording that is not of quiet, unloaded pads; name every taxel at fault."""
    problems = []
    pad_rate = slope_n_s[..., 2].mean(axis=1)
    changing = [
        f"{joints.FINGERTIP_NAMES[p]} {pad_rate[p]:+.2f} N/s" for p in np.flatnonzero(np.abs(pad_rate) > RATE_MAX_N_S)
    ]
    if changing:
        problems.append(f"pads changing faster than {RATE_MAX_N_S} N/s (something touches them): {', '.join(changing)}")
    noise = std_n.max(axis=-1)
    if (noise > NOISE_MAX_N).any():
        problems.append(f"noise above {NOISE_MAX_N} N: " + name_taxels(noise > NOISE_MAX_N, noise))
    normal = mean_n[..., 2]
    pad_level = np.median(normal, axis=1)
    local = normal - pad_level[:, None]
    if (np.abs(local) > LOCAL_MAX_N).any():
        problems.append(
            f"a local load above {LOCAL_MAX_N} N at rest (touched, stuck or saturated): "
            + name_taxels(np.abs(local) > LOCAL_MAX_N, normal)
        )
    loaded = [
        f"{joints.FINGERTIP_NAMES[p]} {pad_level[p]:.2f} N" for p in np.flatnonzero(np.abs(pad_level) > PAD_MAX_N)
    ]
    if loaded:
        problems.append(f"whole pads above {PAD_MAX_N} N (is something resting on them?): {', '.join(loaded)}")
    if problems:
        raise CalibrationRefused("tactile calibration refused, nothing was written: " + "; ".join(problems))


def drift_since(previous: cf.CalibrationFile | None, baseline_n: np.ndarray) -> dict[str, Any]:
    if previous is None:
        return {"previous": None, "pads_drifted": [], "mean_change_n": {}}
    change = (baseline_n - previous.arrays["baseline_n"])[..., 2].mean(axis=1)
    return {
        "previous": {"revision": previous.revision, "created_utc": previous.created_utc, "sha256": previous.sha256},
        "mean_change_n": {n: round(float(c), 4) for n, c in zip(joints.FINGERTIP_NAMES, change, strict=True)},
        "pads_drifted": [n for n, c in zip(joints.FINGERTIP_NAMES, change, strict=True) if abs(c) > DRIFT_TOL_N],
    }


def calibrate(cell: Cell, out: Path, frames: int, confirm: Callable[[str], None]) -> dict[str, Any]:
    confirm("Keep every fingertip free of contact while the pads are recorded.")
    applied, applied_identity = applied_baseline(cell)
    stack = record(cell, frames)
    slope, std = trend(stack)
    mean = stack.mean(axis=0)
    check_at_rest(mean, std, slope * cell.config.control_hz)
    baseline = applied + mean
    drift = drift_since(calibration_store.latest(out, cf.TACTILE_BASELINE), baseline)
    written = calibration_store.write_revision(
        out,
        cf.TACTILE_BASELINE,
        {"baseline_n": baseline, "noise_floor_n": std},
        cell.tactile.info().model,
        {"frames": frames, "applied_before": applied_identity, "pads_drifted": drift["pads_drifted"]},
    )
    return {
        "ok": True,
        "file": written.identity(),
        "frames": frames,
        "max_noise_floor_n": round(float(std.max()), 4),
        "max_abs_baseline_n": round(float(np.abs(baseline).max()), 4),
        "drift": drift,
        "thresholds": {
            "noise_max_n": NOISE_MAX_N,
            "local_max_n": LOCAL_MAX_N,
            "pad_max_n": PAD_MAX_N,
            "rate_max_n_s": RATE_MAX_N_S,
            "drift_n": DRIFT_TOL_N,
        },
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="current calibration path (the driver's tactile_zero_file)")
    p.add_argument("--frames", type=int, default=100, help="frames recorded at rest")
    p.add_argument("--yes", action="store_true", help="do not wait for Enter (the fingertips are free)")


def run(args: argparse.Namespace) -> int:
    if args.frames < 10:
        raise CalibrationRefused(f"--frames {args.frames}: a noise floor needs at least 10 frames")

    confirm = instructions(wait=not args.yes, after="Press Enter when ready. ")

    with Cell.connect(args.config, args.overrides) as cell:
        result = calibrate(cell, args.out, args.frames, confirm)
    for pad in result["drift"]["pads_drifted"]:
        change = result["drift"]["mean_change_n"][pad]
        print(f"drift: {pad} baseline moved {change:+.3f} N since the last calibration", file=sys.stderr)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("tactile", argv)


if __name__ == "__main__":
    sys.exit(main())
