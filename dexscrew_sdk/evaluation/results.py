"""Trial specifications and results, and the durable per-trial results log.

The log is JSON Lines, one record appended and fsynced per finished trial, so
an interrupted evaluation loses at most the trial that was running and resumes
by skipping every key already in the log. A torn last line (power loss while
appending) is ignored on load and overwritten by the next append.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dexscrew_sdk import atomic
from dexscrew_sdk.errors import ConfigError, DexscrewError

PERTURBATIONS: tuple[str, ...] = ("drag_fingers", "counter_rotate")
STATUS_OK = "ok"
STATUS_INFRA = "infra_failure"  # the twin node died: excluded from means, counted, reported


class ResultsLogError(DexscrewError):
    """The results log cannot be read or belongs to another evaluation."""


@dataclass(frozen=True)
class TrialSpec:
    method: str
    task: str
    shape: str
    seed: int
    max_time_s: float
    perturbation: str | None = None
    trace: bool = False  # keep a time series (progress, touch) for the plots

    def __post_init__(self) -> None:
        if self.perturbation is not None and self.perturbation not in PERTURBATIONS:
            raise ConfigError(f"perturbation {self.perturbation!r}: choose one of {list(PERTURBATIONS)} or none")
        if not self.max_time_s > 0:
            raise ConfigError(f"max_time_s must be positive, got {self.max_time_s}")

    @property
    def key(self) -> str:
        return f"{self.method}/{self.task}/{self.shape}/{self.perturbation or 'none'}/{self.seed}"


@dataclass
class TrialResult:
    spec: TrialSpec
    status: str = STATUS_OK
    attempt: int = 0
    worker: int = -1
    progress_ratio: float = 0.0
    turns_done: float = 0.0
    turns_required: float = 0.0
    success: bool = False  # fully fastened within max_time_s
    time_to_fasten_s: float | None = None
    sim_time_s: float = 0.0
    failure_reason: str | None = None  # stalled | unseated | dropped | timeout (None on success)
    perturbed_at_s: float | None = None
    turns_before_perturbation: float | None = None
    recovered: bool | None = None
    recovery_time_s: float | None = None
    wall_s: float = 0.0
    error: str = ""  # what happened to the node, for infrastructure failures
    progress_trace: list[list[float]] = field(default_factory=list)  # [[t_s, ratio], ...] ~2 Hz

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = self.spec.key
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        spec = TrialSpec(**d["spec"])
        known = {f.name for f in fields(cls)} - {"spec"}
        return cls(spec=spec, **{k: v for k, v in d.items() if k in known})


class ResultsLog:
    """Append-only JSON Lines file of TrialResults (ok and infrastructure failures alike)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> list[TrialResult]:
        if not self.path.exists():
            return []
        out: list[TrialResult] = []
        lines = self.path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(TrialResult.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                if i == len(lines) - 1:
                    break  # a torn final append: that trial simply runs again
                raise ResultsLogError(
                    f"{self.path}: line {i + 1} is not a trial record ({exc}); "
                    "move the file away to start a fresh evaluation"
                ) from None
        return out

    def append(self, result: TrialResult) -> None:
        self._drop_torn_tail()
        line = json.dumps(result.to_dict(), sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _drop_torn_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            content = f.read()
            f.truncate(content.rfind(b"\n") + 1)


def finished_keys(results: list[TrialResult]) -> dict[str, TrialResult]:
    """Keys that need no more attempts: an ok result, or a retry that also hit an infrastructure failure."""
    done: dict[str, TrialResult] = {}
    for r in results:
        if r.status == STATUS_OK or r.attempt >= 1:
            done[r.spec.key] = r
    return done


def write_json_atomic(path: Path, data: Any) -> None:
    """Write a whole result file (old or new, never half of one), keys sorted so reruns diff cleanly."""
    atomic.write_json_atomic(path, data, sort_keys=True)
