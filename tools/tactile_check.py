"""Tactile check (`dexscrew tactile-check`): dead, stuck, saturated and noisy taxels per fingertip; the press test.

1. At rest (`--rest-frames`, fingertips free). Noisy: standard deviation about a
   line in time above 3 x the calibrated noise floor (floored at
   `FLOOR_MIN_N`, the sensor's nominal noise) or above `NOISY_N` = 0.05 N.
   Saturated: at least `FULL_SCALE_N` - 0.05 N on the normal axis in 90 % of the rest
   frames, with nothing touching it.
2. The press test: the operator presses each fingertip in turn with a flat
   object (`--press-s` seconds each). The pressed pad must light up (resultant
   above `LIT_N`) and be the strongest; any other pad rising `LIT_N` above its
   rest level is named as lit by the wrong press. Frames where the pad carries at least half its peak
   are "under the press"; a taxel is covered when the median peak of its
   neighbours then exceeds `COVER_N`. Covered taxels are dead if they read
   below `DEAD_N` = 0.05 N throughout, stuck if their reading is unchanged over
   at least `STUCK_FRAMES` frames under the press; uncovered taxels are counted,
   not judged.
3. Pictures: `--png FILE` (the five 10 x 12 pads at the strongest frame of
   each press, colour in newtons, shear arrows, faults outlined), `--force-png
   FILE` (each fingertip's resultant force over the whole check).
`--live` instead shows a refreshing terminal heatmap until Ctrl-C. `--open-hand`
opens the hand first, so that nothing it holds touches a pad.

The calibrated noise floor comes from `--calibration FILE`, else from the
baseline file the sensor reports applying, else the nominal floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import DexscrewError
from tools.prompts import instructions
from tools.sampling import collect
from tools.tactile_calibration import noise_floor
from tools.taxels import COLS, ROWS, taxel_name

NOISY_N = 0.05
NOISY_FACTOR = 3.0
FLOOR_MIN_N = 0.01  # the sensor's nominal noise: a floor estimated lower is not resolvable
FULL_SCALE_N = 8.0  # the pads' saturation
DEAD_N = joints.TACTILE_THRESHOLD_N
STUCK_FRAMES = 8
LIT_N = 1.0  # resultant of a pad that "lights up"
COVER_N = 0.1
OPEN_S = 1.5  # --open-hand: time for the fingers to open and settle
TIPS = joints.FINGERTIP_NAMES


@dataclass
class PadReport:
    fingertip: str
    dead: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    saturated: list[int] = field(default_factory=list)
    noisy: list[int] = field(default_factory=list)
    pressed: bool = False
    lit_up: bool | None = None  # None: not pressed in this check
    peak_resultant_n: float = 0.0
    lit_by_other_presses: list[str] = field(default_factory=list)
    covered_taxels: int = 0

    @property
    def ok(self) -> bool:
        faults = self.dead or self.stuck or self.saturated or self.noisy or self.lit_by_other_presses
        return not faults and self.lit_up is not False

    def problems(self) -> list[str]:
        out = []
        for kind in ("dead", "stuck", "saturated", "noisy"):
            taxels = getattr(self, kind)
            if taxels:
                names = ", ".join(taxel_name(TIPS.index(self.fingertip), t) for t in taxels)
                out.append(f"{kind}: {names}")
        if self.lit_up is False:
            out.append(f"{self.fingertip} did not light up when pressed (peak {self.peak_resultant_n:.2f} N)")
        for other in self.lit_by_other_presses:
            out.append(f"{self.fingertip} lit up while {other} was pressed")
        return out


def read_frames(cell: Cell, n: int) -> np.ndarray:
    def read() -> tuple[int, np.ndarray]:
        f = cell.tactile.frame()
        return f.seq, f.force_n

    return collect(cell, read, n)


def calibrated_floor(cell: Cell, path: Path | None) -> tuple[np.ndarray, str]:
    """The per-taxel noise floor to judge against, and where it came from."""
    if path is None:
        identity = cell.tactile.info().extra.get("calibration", {}).get(cf.TACTILE_BASELINE)
        path = None if identity is None else Path(identity["path"])
    if path is None:
        return np.full(joints.TACTILE_SHAPE, FLOOR_MIN_N), "nominal"
    return np.maximum(cf.load_tactile_baseline(path).arrays["noise_floor_n"], FLOOR_MIN_N), str(path)


def rest_faults(rest: np.ndarray, floor_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, saturated) masks (5, 120) from frames at rest."""
    std = noise_floor(rest)
    noisy = ((std > NOISY_FACTOR * floor_n) | (std > NOISY_N)).any(axis=-1)
    saturated = (np.abs(rest[..., 2]) >= FULL_SCALE_N - 0.05).mean(axis=0) >= 0.9
    return noisy, saturated & ~noisy


def _neighbour_median(values: np.ndarray) -> np.ndarray:
    """Per taxel of a (120,) pad, the median of its up to 8 neighbours."""
    grid = values.reshape(ROWS, COLS)
    padded = np.pad(grid, 1, constant_values=np.nan)
    stack = [
        padded[1 + dr : 1 + dr + ROWS, 1 + dc : 1 + dc + COLS] for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc
    ]
    return np.nanmedian(np.stack(stack), axis=0).reshape(-1)


def press_faults(frames: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dead, stuck, covered) masks (120,) of the pressed pad and the frames under the press."""
    normal = frames[:, pad, :, 2]
    load = normal.sum(axis=1)
    under = load >= 0.5 * load.max()
    window = frames[under, pad]  # (k, 120, 3)
    peak = np.abs(window[..., 2]).max(axis=0)
    covered = _neighbour_median(peak) > COVER_N
    dead = covered & (np.abs(window).max(axis=(0, 2)) < DEAD_N)
    unchanged = (np.ptp(window, axis=0) == 0).all(axis=-1)
    stuck = covered & unchanged & ~dead & (len(window) >= STUCK_FRAMES)
    return dead, stuck, covered, under


def resultant_n(frames: np.ndarray) -> np.ndarray:
    """(T, 5) magnitude of each pad's summed force vector."""
    return np.linalg.norm(frames.sum(axis=2), axis=-1)


def check(
    cell: Cell,
    rest_frames: int,
    press: list[str],
    press_s: float,
    prompt: Callable[[str], None],
    calibration: Path | None = None,
    open_hand: bool = False,
) -> dict[str, Any]:
    """The whole check; `prompt(instruction)` returns once the operator has started doing what it says."""
    floor, floor_source = calibrated_floor(cell, calibration)
    if open_hand:
        prompt("The hand opens: keep clear of the fingers.")
        open_q = cell.hand.limits.clip(np.zeros(joints.HAND_DOF))
        for _ in cell.clock.ticks(round(OPEN_S * cell.config.control_hz)):
            cell.hand.command(open_q)
    prompt("Keep every fingertip free of contact.")
    rest = read_frames(cell, rest_frames)
    rest_force = resultant_n(rest).max(axis=0)
    noisy, saturated = rest_faults(rest, floor)
    reports = [PadReport(t) for t in TIPS]
    for k, r in enumerate(reports):
        r.noisy, r.saturated = np.flatnonzero(noisy[k]).tolist(), np.flatnonzero(saturated[k]).tolist()
    recorded = [rest]
    pictures: dict[str, np.ndarray] = {}
    n_press = max(STUCK_FRAMES + 2, round(press_s * cell.config.control_hz))
    for tip in press:
        k = TIPS.index(tip)
        prompt(f"Press the {tip} fingertip pad firmly with a flat object, then let go.")
        frames = read_frames(cell, n_press)
        recorded.append(frames)
        force = resultant_n(frames)
        r = reports[k]
        r.pressed, r.peak_resultant_n = True, float(force[:, k].max())
        r.lit_up = bool(r.peak_resultant_n >= LIT_N and force[:, k].max() >= force.max())
        for other in range(len(TIPS)):
            if other != k and force[:, other].max() - rest_force[other] >= LIT_N:
                reports[other].lit_by_other_presses.append(tip)
        if r.lit_up:
            dead, stuck, covered, _ = press_faults(frames, k)
            healthy_rest = ~(noisy[k] | saturated[k])
            r.dead = np.flatnonzero(dead & healthy_rest).tolist()
            r.stuck = np.flatnonzero(stuck & healthy_rest).tolist()
            r.covered_taxels = int(covered.sum())
        pictures[tip] = frames[int(force[:, k].argmax())]
    stack = np.concatenate(recorded)
    return {
        "ok": all(r.ok for r in reports),
        "pads": [asdict(r) | {"ok": r.ok} for r in reports],
        "problems": [p for r in reports for p in r.problems()],
        "thresholds": {
            "noisy_std_n": f"> {NOISY_FACTOR} x calibrated floor (>= {FLOOR_MIN_N}) or > {NOISY_N}",
            "saturated_n": FULL_SCALE_N - 0.05,
            "dead_n": DEAD_N,
            "stuck_frames": STUCK_FRAMES,
            "lit_n": LIT_N,
            "cover_n": COVER_N,
        },
        "noise_floor_from": floor_source,
        "_frames": stack,  # for the pictures; dropped before printing
        "_pictures": pictures,
    }


def write_pictures(result: dict[str, Any], png: Path | None, force_png: Path | None, period_s: float) -> dict[str, str]:
    from dexscrew_sdk.evaluation import plots

    out: dict[str, str] = {}
    marks = {p["fingertip"]: p["dead"] + p["stuck"] + p["saturated"] + p["noisy"] for p in result["pads"]}
    if png is not None:
        pictures = result["_pictures"]
        frame = np.zeros(joints.TACTILE_SHAPE)
        for tip, f in pictures.items():  # each pad at the peak of its own press
            frame[TIPS.index(tip)] = f[TIPS.index(tip)]
        if not pictures:
            frame = result["_frames"][-1]
        verdict = "pass" if result["ok"] else "FAIL (outlined), " + "; ".join(result["problems"])
        title = textwrap.fill(f"tactile check: {verdict}", 160)
        out["png"] = str(plots.tactile_pads(png, frame, TIPS, joints.TAXEL_GRID, title, marks))
    if force_png is not None:
        frames = result["_frames"]
        t = np.arange(len(frames)) * period_s
        force = resultant_n(frames)
        out["force_png"] = str(plots.resultant_forces(force_png, t, {tip: force[:, k] for k, tip in enumerate(TIPS)}))
    return out


# ---------------------------------------------------------------- live terminal heatmap
SHADES = [17, 18, 19, 20, 21, 27, 33, 39, 45, 51, 87, 123, 159, 195, 226, 220, 214, 208, 202, 196]


def heatmap_text(force_n: np.ndarray, scale_n: float = 2.0) -> str:
    """The five pads side by side as coloured cells (ANSI 256 colours), normal force 0..scale_n newtons."""
    normal = np.asarray(force_n)[..., 2].reshape(len(TIPS), ROWS, COLS)
    level = np.clip(normal / scale_n, 0.0, 1.0)
    idx = np.minimum((level * (len(SHADES) - 1)).round().astype(int), len(SHADES) - 1)
    lines = ["  ".join(f"{t:<{2 * COLS}}" for t in TIPS)]
    for r in range(ROWS):
        row = []
        for p in range(len(TIPS)):
            row.append("".join(f"\x1b[48;5;{SHADES[idx[p, r, c]]}m  " for c in range(COLS)) + "\x1b[0m")
        lines.append("  ".join(row))
    peaks = "  ".join(f"{t}: {normal[k].max():5.2f} N".ljust(2 * COLS) for k, t in enumerate(TIPS))
    lines.append(peaks + f"   (scale 0..{scale_n} N)")
    return "\n".join(lines)


def live(cell: Cell, out: TextIO = sys.stdout, scale_n: float = 2.0, frames: int | None = None) -> int:
    """Redraw the heatmap at the cell's rate until Ctrl-C (or `frames` frames); returns frames drawn."""
    drawn = 0
    try:
        while frames is None or drawn < frames:
            out.write("\x1b[H\x1b[2J" + heatmap_text(cell.tactile.frame().force_n, scale_n) + "\n")
            out.flush()
            drawn += 1
            cell.clock.wait()
    except KeyboardInterrupt:
        pass
    return drawn


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rest-frames", type=int, default=60, help="frames recorded with the fingertips free")
    p.add_argument(
        "--press", nargs="*", choices=TIPS, default=list(TIPS),
        help="fingertips to press, in turn (default: all five; none: rest checks only)",
    )  # fmt: skip
    p.add_argument("--press-s", type=float, default=2.0, help="seconds recorded per press")
    p.add_argument("--calibration", type=Path, help="tactile baseline file with the noise floor to judge against")
    p.add_argument("--png", type=Path, help="write the pads' picture here")
    p.add_argument("--force-png", type=Path, help="write each fingertip's resultant force over time here")
    p.add_argument("--live", action="store_true", help="terminal heatmap until Ctrl-C instead of the check")
    p.add_argument("--scale-n", type=float, default=2.0, help="live heatmap: force at the top of the colour scale")
    p.add_argument("--open-hand", action="store_true", help="open the hand first, so nothing it holds touches a pad")
    p.add_argument("--yes", action="store_true", help="do not wait for Enter between steps")


def run(args: argparse.Namespace) -> int:
    with Cell.connect(args.config, args.overrides) as cell:
        if args.live:
            live(cell, scale_n=args.scale_n)
            return 0
        if args.rest_frames < 10 or args.press_s <= 0:
            raise DexscrewError("--rest-frames must be >= 10 and --press-s positive")

        prompt = instructions(wait=not args.yes, after="Press Enter and do it. ")

        started = time.monotonic()
        result = check(cell, args.rest_frames, list(args.press), args.press_s, prompt, args.calibration, args.open_hand)
        result["pictures"] = write_pictures(result, args.png, args.force_png, 1.0 / cell.config.control_hz)
        result["duration_s"] = round(time.monotonic() - started, 2)
    for pad in result["pads"]:
        verdict = "pass" if pad["ok"] else "FAIL"
        print(f"{pad['fingertip']:>7}: {verdict}  peak {pad['peak_resultant_n']:6.2f} N", file=sys.stderr)
    for problem in result["problems"]:
        print(f"  {problem}", file=sys.stderr)
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}))
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("tactile-check", argv)


if __name__ == "__main__":
    sys.exit(main())
