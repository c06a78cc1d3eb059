"""Summary statistics of trials: mean, standard deviation, seeded bootstrap interval, and "ahead".

"Ahead" follows the evaluation's rule: a higher mean AND non-overlapping 95 %
intervals; anything else with a higher mean is reported as an overlap, never
as a win.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1; 0 for a single value) and a percentile-bootstrap interval."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.ci_low, self.ci_high]}


class Verdict(str, enum.Enum):
    AHEAD = "ahead"
    BEHIND = "behind"
    OVERLAP = "overlap"  # intervals overlap: no claim either way, whatever the means
    NO_DATA = "no data"


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(list(values), dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite (a trial without a value is left out, not NaN)")
    return x


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; the same values and seed give the same interval."""
    x = _clean(values)
    if len(x) == 0:
        raise ValueError("bootstrap_ci of no values")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if np.ptp(x) == 0.0:
        return float(x[0]), float(x[0])
    idx = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    means = x[idx].mean(axis=1)
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    # float rounding of a mean may step a hair outside the data's range; the interval never does
    return float(max(lo, x.min())), float(min(hi, x.max()))


def summarise(values: Sequence[float], *, seed: int = BOOTSTRAP_SEED) -> Summary | None:
    """None for no values (e.g. time to fastening when no trial finished)."""
    x = _clean(values)
    if len(x) == 0:
        return None
    if np.ptp(x) == 0.0:  # exact, where summing would leave a rounding residue in mean and std
        return Summary(len(x), float(x[0]), 0.0, float(x[0]), float(x[0]))
    lo, hi = bootstrap_ci(x, seed=seed)
    std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    return Summary(len(x), float(x.mean()), std, lo, hi)


def compare(a: Summary | None, b: Summary | None) -> Verdict:
    """Is `a` ahead of `b`: higher mean and intervals that do not overlap."""
    if a is None or b is None:
        return Verdict.NO_DATA
    if a.mean > b.mean and a.ci_low > b.ci_high:
        return Verdict.AHEAD
    if b.mean > a.mean and b.ci_low > a.ci_high:
        return Verdict.BEHIND
    return Verdict.OVERLAP
