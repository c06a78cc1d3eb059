"""Sensor faults of the twin's hand and fingertips, the calibration it applies, and the operator's jig and press.

The twin's physics produces what is physically there (joint angles, contact
forces); `SensorReadout` turns that into what the XHand would report, as set by
the cell's configuration (``[nodes.<twin>.params.sensors]``), never by code
paths of their own:

- taxel faults per pad: dead (reads nothing), stuck (holds one value),
  saturated (reads full scale), noisy (extra noise); a drifting pad (its normal
  baseline grows with time);
- joint faults: an encoder offset (reported = physical + offset; the hand's
  own position loop then puts the joint at target - offset) and backlash (the
  joint stops short of the target by half the play, on the side it came from);
- the calibration files the XHand driver applies (joint offsets, tactile
  baseline), loaded with the same `dexscrew_sdk.calibration_files`;
- a jig (the physical joints held at given angles, commands ignored, as when
  the hand sits powerless in a calibration fixture) and an operator pressing a
  fingertip with a flat probe (`press`), which only the sim-only World triggers.

Tools never see this module's parameters: they see what the hand reports.
`draw(seed)` picks fault locations from a seed, so each test run can check a
new set. `python -m twins.faults --seed 3` prints them as configuration.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk import calibration_files, joints
from dexscrew_sdk.errors import ConfigError

SATURATION_N = 8.0  # the pads' full scale (twins/tactile.py clips there too)
PRESS_DURATION_S = 1.0
PRESS_PEAK_N = 0.5  # per taxel at the centre of the probe (the edge gets 45 % of it): ~40 N on the pad
TAXELS = joints.TAXEL_GRID[0] * joints.TAXEL_GRID[1]
# what the operator does with their hands on the twin (World perturbations, never a tool's call)
OPERATOR_ACTIONS: tuple[str, ...] = (*(f"press_{tip}" for tip in joints.FINGERTIP_NAMES), "remove_jig")


@dataclass
class TaxelRef:
    pad: str  # fingertip name, joints.FINGERTIP_NAMES
    taxel: int  # 0..119, row-major over the 10 x 12 grid

    def __post_init__(self) -> None:
        if self.pad not in joints.FINGERTIP_NAMES:
            raise ConfigError(f"pad {self.pad!r}: choose one of {list(joints.FINGERTIP_NAMES)}")
        if isinstance(self.taxel, bool) or not 0 <= int(self.taxel) < TAXELS:
            raise ConfigError(f"taxel {self.taxel!r} on {self.pad}: must be in [0, {TAXELS - 1}]")

    @property
    def index(self) -> tuple[int, int]:
        return joints.FINGERTIP_NAMES.index(self.pad), int(self.taxel)

    def name(self) -> str:
        return f"{self.pad} taxel {self.taxel}"


@dataclass
class FaultParams:
    """`[nodes.<twin>.params.sensors.faults]`: what is broken, and where."""

    dead_taxels: list[TaxelRef] = field(default_factory=list)
    stuck_taxels: list[TaxelRef] = field(default_factory=list)
    stuck_value_n: float = 1.0  # the normal force a stuck taxel keeps reporting
    saturated_taxels: list[TaxelRef] = field(default_factory=list)
    noisy_taxels: list[TaxelRef] = field(default_factory=list)
    noisy_std_n: float = 0.2
    drifting_pads: dict[str, float] = field(default_factory=dict)  # pad -> normal drift [N/s]
    joint_offsets_rad: dict[str, float] = field(default_factory=dict)  # joint -> encoder offset
    backlash_rad: dict[str, float] = field(default_factory=dict)  # joint -> total play

    def __post_init__(self) -> None:
        for attr in ("dead_taxels", "stuck_taxels", "saturated_taxels", "noisy_taxels"):
            setattr(self, attr, [t if isinstance(t, TaxelRef) else TaxelRef(**t) for t in getattr(self, attr)])
        taken = [t.index for attr in ("dead", "stuck", "saturated", "noisy") for t in getattr(self, f"{attr}_taxels")]
        if len(taken) != len(set(taken)):
            raise ConfigError("faults: a taxel is listed under two faults; give each taxel one fault")
        if abs(self.stuck_value_n) < 2 * joints.TACTILE_THRESHOLD_N or not self.noisy_std_n > 0:
            raise ConfigError("faults: stuck_value_n must be >= 0.1 N in magnitude and noisy_std_n positive")
        for pad, rate in self.drifting_pads.items():
            TaxelRef(pad, 0)
            if not np.isfinite(rate):
                raise ConfigError(f"faults.drifting_pads.{pad}: drift must be finite, got {rate}")
        for attr, bound in (("joint_offsets_rad", 0.5), ("backlash_rad", 0.5)):
            for name, value in getattr(self, attr).items():
                if name not in joints.HAND_JOINT_NAMES:
                    raise ConfigError(f"faults.{attr}: unknown joint {name!r}; joints: {list(joints.HAND_JOINT_NAMES)}")
                if not (np.isfinite(value) and abs(value) <= bound) or (attr == "backlash_rad" and value < 0):
                    raise ConfigError(f"faults.{attr}.{name} = {value}: must be finite, |value| <= {bound} rad")

    def vector(self, attr: str) -> np.ndarray:
        out = np.zeros(joints.HAND_DOF)
        for name, value in getattr(self, attr).items():
            out[joints.HAND_JOINT_NAMES.index(name)] = value
        return out

    def to_table(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SensorParams:
    """`[nodes.<twin>.params.sensors]`: faults, the calibration files applied, the jig."""

    faults: FaultParams = field(default_factory=FaultParams)
    joint_offsets_file: str = ""  # as the XHand driver's parameter of the same name
    tactile_zero_file: str = ""
    jig_rad: list[float] | None = None  # the hand sits in a jig holding these angles (canonical order)

    def __post_init__(self) -> None:
        if isinstance(self.faults, dict):
            self.faults = FaultParams(**self.faults)
        if self.jig_rad is not None:
            jig = np.asarray(self.jig_rad, dtype=float)
            lo, hi = joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD
            if jig.shape != (joints.HAND_DOF,) or not np.isfinite(jig).all() or (jig < lo).any() or (jig > hi).any():
                raise ConfigError(f"sensors.jig_rad: needs {joints.HAND_DOF} angles inside the hand's limits")


def _play(previous: np.ndarray, target: np.ndarray, play: np.ndarray) -> np.ndarray:
    """Backlash: the output moves only once the input has taken up half the play on either side."""
    half = play / 2.0
    return np.clip(previous, target - half, target + half)


class SensorReadout:
    """Physical hand and touch -> what the XHand reports (faults, calibration, jig, the operator's press)."""

    def __init__(self, params: SensorParams | None = None, seed: int = 0) -> None:
        self.params = params or SensorParams()
        f = self.params.faults
        self.rng = np.random.default_rng([seed, 0xFA17])  # never shares the physics' noise stream
        self.encoder_offset_rad = f.vector("joint_offsets_rad")
        self.play_rad = f.vector("backlash_rad")
        self.calibration: dict[str, dict[str, Any]] = {}
        self.cal_offsets_rad = np.zeros(joints.HAND_DOF)
        self.cal_baseline_n = np.zeros(joints.TACTILE_SHAPE)
        if self.params.joint_offsets_file:
            cal = calibration_files.load_joint_offsets(self.params.joint_offsets_file)
            self.cal_offsets_rad, self.calibration[cal.kind] = cal.arrays["joint_offsets_rad"], cal.identity()
        if self.params.tactile_zero_file:
            cal = calibration_files.load_tactile_baseline(self.params.tactile_zero_file)
            self.cal_baseline_n, self.calibration[cal.kind] = cal.arrays["baseline_n"], cal.identity()
        self._drive: np.ndarray | None = None
        self._in_jig = self.params.jig_rad is not None
        self._press: tuple[int, float] | None = None  # (pad, start time)
        rows, cols = joints.TAXEL_GRID
        r, c = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
        self._probe = (1.0 - 0.55 * (r**2 + c**2) / 2.0).reshape(-1)  # a flat probe, firmest at the centre
        self._tilt = (0.1 * r).reshape(-1)  # the operator's press rocks a little along the pad

    # ---------------------------------------------------------------- hand
    @property
    def jig(self) -> np.ndarray | None:
        """The jig's angles while the hand sits in it."""
        return np.asarray(self.params.jig_rad, dtype=float) if self._in_jig else None

    def operator(self, action: str, time_s: float) -> None:
        """One of OPERATOR_ACTIONS: press a pad with a flat probe, or take the hand out of its jig."""
        if action == "remove_jig":
            self._in_jig, self._drive = False, None
        elif action in OPERATOR_ACTIONS:
            self.press(action.removeprefix("press_"), time_s)
        else:
            raise ConfigError(f"unknown operator action {action!r}; choose one of {list(OPERATOR_ACTIONS)}")

    def reported_q(self, q_physical_rad: np.ndarray) -> np.ndarray:
        """Canonical angles the hand reports: the encoder's error, then the calibration the driver adds."""
        return q_physical_rad + self.encoder_offset_rad + self.cal_offsets_rad

    def drive_target(self, target_rad: np.ndarray, q_physical_rad: np.ndarray) -> np.ndarray:
        """Where the joints physically go for a canonical target: calibration and encoder error removed,
        backlash on top; in the jig, the jig's angles."""
        if self.jig is not None:
            return self.jig
        raw = target_rad - self.cal_offsets_rad - self.encoder_offset_rad
        previous = q_physical_rad if self._drive is None else self._drive
        self._drive = _play(previous, raw, self.play_rad)
        return self._drive

    def reset(self) -> None:
        """A rebuilt scene: the gearing settles where the joints are; any press ends."""
        self._drive, self._press = None, None

    # ---------------------------------------------------------------- touch
    def press(self, pad: str, time_s: float) -> None:
        """The operator presses `pad` with a flat probe for PRESS_DURATION_S (World perturbation)."""
        TaxelRef(pad, 0)
        self._press = (joints.FINGERTIP_NAMES.index(pad), float(time_s))

    def tactile(self, frame_n: np.ndarray, time_s: float) -> np.ndarray:
        """(5, 120, 3) float32 frame the pads report, from the contact forces the physics produced."""
        f = self.params.faults
        out = np.asarray(frame_n, dtype=np.float64).copy()
        if self._press is not None:
            pad, t0 = self._press
            phase = (time_s - t0) / PRESS_DURATION_S
            if 0.0 <= phase <= 1.0:
                load = PRESS_PEAK_N * np.sin(np.pi * phase) * (self._probe + self._tilt * np.sin(2 * np.pi * phase))
                out[pad, :, 2] += load + self.rng.normal(0.0, 0.01, TAXELS)
                out[pad, :, 1] += 0.15 * load  # the probe pushes a little along the pad, towards the tip
            elif phase > 1.0:
                self._press = None
        for pad, rate in f.drifting_pads.items():
            out[joints.FINGERTIP_NAMES.index(pad), :, 2] += rate * time_s
        for t in f.noisy_taxels:
            out[t.index] += self.rng.normal(0.0, f.noisy_std_n, 3)
        out -= self.cal_baseline_n
        out[np.abs(out) < joints.TACTILE_THRESHOLD_N] = 0.0
        np.clip(out, -SATURATION_N, SATURATION_N, out=out)
        for t in f.saturated_taxels:  # electronics faults come after the driver's zero: it cannot undo them
            out[t.index] = (0.0, 0.0, SATURATION_N)
        for t in f.stuck_taxels:
            out[t.index] = (0.0, 0.0, f.stuck_value_n)
        for t in f.dead_taxels:
            out[t.index] = 0.0
        return out.astype(np.float32)

    def info_extra(self) -> dict[str, Any]:
        """What the XHand driver reports about its calibration (the tools read this, never the faults)."""
        return {"joint_offsets_rad": self.cal_offsets_rad.tolist(), "calibration": dict(self.calibration)}


def draw(
    seed: int,
    dead: int = 1,
    stuck: int = 1,
    saturated: int = 1,
    noisy: int = 1,
    drifting: int = 0,
    offsets: int = 2,
    backlash: int = 1,
) -> FaultParams:
    """Fault locations drawn from `seed`: distinct taxels, distinct pads for drift, distinct joints.

    Offsets are 0.05..0.15 rad with a random sign, backlash 0.15..0.25 rad, drift 0.05..0.1 N/s:
    large enough that the tools' stated thresholds must find them, small enough to be plausible."""
    rng = np.random.default_rng(seed)
    n_taxels = dead + stuck + saturated + noisy
    flat = rng.choice(len(joints.FINGERTIP_NAMES) * TAXELS, size=n_taxels, replace=False)
    refs = [TaxelRef(joints.FINGERTIP_NAMES[int(i) // TAXELS], int(i) % TAXELS) for i in flat]
    kinds = iter(
        [refs[:dead], refs[dead : dead + stuck], refs[dead + stuck : n_taxels - noisy], refs[n_taxels - noisy :]]
    )
    pads = rng.choice(joints.FINGERTIP_NAMES, size=drifting, replace=False)
    joint_ids = rng.choice(joints.HAND_DOF, size=offsets + backlash, replace=False)
    names = [joints.HAND_JOINT_NAMES[int(j)] for j in joint_ids]
    return FaultParams(
        dead_taxels=next(kinds),
        stuck_taxels=next(kinds),
        saturated_taxels=next(kinds),
        noisy_taxels=next(kinds),
        drifting_pads={str(p): float(rng.uniform(0.05, 0.1)) for p in pads},
        joint_offsets_rad={n: float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.15)) for n in names[:offsets]},
        backlash_rad={n: float(rng.uniform(0.15, 0.25)) for n in names[offsets:]},
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m twins.faults", description="print fault locations drawn from a seed")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--drifting", type=int, default=1)
    args = p.parse_args(argv)
    print(json.dumps({"faults": draw(args.seed, drifting=args.drifting).to_table()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
