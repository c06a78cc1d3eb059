"""From trial results to the paper's tables: per (method, object) statistics, Markdown, JSON.

Tables I (nuts) and II (screwdriver) are laid out like the paper's, with the
paper's numbers beside the twin's ("-" where the paper has none). Progress is
shown in percent; time to full fastening counts only trials that finished.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from dexscrew_sdk.evaluation import catalog
from dexscrew_sdk.evaluation.results import STATUS_INFRA, STATUS_OK, TrialResult, finished_keys
from dexscrew_sdk.evaluation.stats import Summary, Verdict, compare, summarise

REFERENCE_METHOD = "bc_touch_hist"  # the method the comparisons are about


@dataclass
class CellStats:
    method: str
    task: str
    shape: str
    trials: int = 0
    excluded_infra: int = 0  # trials whose retry also failed on infrastructure
    progress: Summary | None = None  # ratio in [0, 1]
    time_s: Summary | None = None  # finished trials only
    successes: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "task": self.task,
            "shape": self.shape,
            "trials": self.trials,
            "excluded_infra": self.excluded_infra,
            "progress_ratio": None if self.progress is None else self.progress.to_dict(),
            "time_to_fasten_s": None if self.time_s is None else self.time_s.to_dict(),
            "successes": self.successes,
            "failures": dict(self.failures),
        }


@dataclass
class PerturbationStats:
    method: str
    task: str
    shape: str
    perturbation: str
    trials: int
    recovered: int
    rate: Summary | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "task": self.task,
            "shape": self.shape,
            "perturbation": self.perturbation,
            "trials": self.trials,
            "recovered": self.recovered,
            "recovery_rate": None if self.rate is None else self.rate.to_dict(),
        }


@dataclass
class Report:
    cells: dict[tuple[str, str, str], CellStats]
    perturbations: list[PerturbationStats]
    infra_attempts: int  # attempts lost to a dead twin node (each retried once)
    infra_excluded: int  # trials left out of the means after their retry failed too

    def cell(self, method: str, shape: str) -> CellStats | None:
        for (m, _, s), c in self.cells.items():
            if m == method and s == shape:
                return c
        return None

    def methods(self) -> list[str]:
        present = {m for m, _, _ in self.cells} | {p.method for p in self.perturbations}
        return [m for m in catalog.METHODS if m in present] + sorted(present - set(catalog.METHODS))

    def flat(self) -> dict[str, float]:
        """`progress.<method>.<shape>` -> mean progress ratio (the demo's last JSON line)."""
        return {
            f"progress.{m}.{s}": round(c.progress.mean, 4)
            for (m, _, s), c in sorted(self.cells.items())
            if c.progress is not None
        }

    def verdicts(self, reference: str = REFERENCE_METHOD) -> dict[str, dict[str, str]]:
        """shape -> other method -> ahead | behind | overlap | no data, for `reference` against each."""
        out: dict[str, dict[str, str]] = {}
        for o in catalog.OBJECTS:
            ref = self.cell(reference, o.shape)
            if ref is None:
                continue
            row = {}
            for m in self.methods():
                other = self.cell(m, o.shape)
                if m != reference and other is not None:
                    row[m] = compare(ref.progress, other.progress).value
            out[o.shape] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": [c.to_dict() for c in self.cells.values()],
            "perturbations": [p.to_dict() for p in self.perturbations],
            "infra_attempts": self.infra_attempts,
            "infra_excluded": self.infra_excluded,
            "verdicts": self.verdicts(),
            "flat": self.flat(),
        }


def build(results: list[TrialResult]) -> Report:
    final = finished_keys(results)
    infra_attempts = sum(r.status == STATUS_INFRA for r in results)
    groups: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    pert: dict[tuple[str, str, str, str], list[TrialResult]] = defaultdict(list)
    for r in final.values():
        s = r.spec
        if s.perturbation is None:
            groups[(s.method, s.task, s.shape)].append(r)
        else:
            pert[(s.method, s.task, s.shape, s.perturbation)].append(r)
    cells: dict[tuple[str, str, str], CellStats] = {}
    for key in sorted(groups, key=_order):
        rs = groups[key]
        ok = [r for r in rs if r.status == STATUS_OK]
        cells[key] = CellStats(
            *key,
            trials=len(ok),
            excluded_infra=len(rs) - len(ok),
            progress=summarise([r.progress_ratio for r in ok]),
            time_s=summarise([r.time_to_fasten_s for r in ok if r.success and r.time_to_fasten_s is not None]),
            successes=sum(r.success for r in ok),
            failures=dict(Counter(r.failure_reason for r in ok if r.failure_reason)),
        )
    perts = []
    for key in sorted(pert, key=lambda k: (*_order(k[:3]), k[3])):
        ok = [r for r in pert[key] if r.status == STATUS_OK and r.recovered is not None]
        perts.append(
            PerturbationStats(
                *key, len(ok), sum(bool(r.recovered) for r in ok), summarise([float(bool(r.recovered)) for r in ok])
            )
        )
    excluded = sum(r.status != STATUS_OK for r in final.values())
    return Report(cells, perts, infra_attempts, excluded)


def _order(key: tuple[str, str, str]) -> tuple[int, int]:
    m, task, shape = key
    methods = list(catalog.METHODS)
    objs = [(o.task, o.shape) for o in catalog.OBJECTS]
    return (
        methods.index(m) if m in methods else len(methods),
        objs.index((task, shape)) if (task, shape) in objs else 99,
    )


# ------------------------------------------------------------------ Markdown
def _pct(s: Summary | None) -> str:
    if s is None:
        return "-"
    return f"{100 * s.mean:.1f} ± {100 * s.std:.1f} [{100 * s.ci_low:.1f}, {100 * s.ci_high:.1f}] (n={s.n})"


def _secs(c: CellStats | None) -> str:
    if c is None or c.time_s is None:
        return "-" if c is None else f"- (0/{c.trials} finished)"
    t = c.time_s
    return f"{t.mean:.1f} ± {t.std:.1f} [{t.ci_low:.1f}, {t.ci_high:.1f}] ({c.successes}/{c.trials} finished)"


def _paper(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:g}{unit}"


def _label(o: catalog.EvalObject) -> str:
    return o.shape if o.seen else f"{o.shape} (unseen)"


def table_nuts(rep: Report) -> str:
    objs = catalog.objects_of("nut")
    head = "| method | " + " | ".join(f"{_label(o)} | paper" for o in objs) + " |"
    rule = "|---" * (1 + 2 * len(objs)) + "|"
    rows = [head, rule]
    trows = ["| method | " + " | ".join(f"{_label(o)} | paper" for o in objs) + " |", rule]
    for m in rep.methods():
        cells = [rep.cell(m, o.shape) for o in objs]
        if all(c is None for c in cells):
            continue
        rows.append(
            f"| {catalog.METHODS.get(m, m)} | "
            + " | ".join(
                f"{_pct(c.progress) if c else '-'} | {_paper(catalog.paper_progress(m, 'nut', o.shape))}"
                for c, o in zip(cells, objs, strict=True)
            )
            + " |"
        )
        trows.append(
            f"| {catalog.METHODS.get(m, m)} | "
            + " | ".join(
                f"{_secs(c)} | {_paper(catalog.paper_time_s(m, 'nut', o.shape))}"
                for c, o in zip(cells, objs, strict=True)
            )
            + " |"
        )
    return (
        "### Table I: nuts, progress ratio % (mean ± std [95 % bootstrap interval])\n\n"
        + "\n".join(rows)
        + "\n\n### Table I: nuts, time to full fastening, s (finished trials only)\n\n"
        + "\n".join(trows)
        + "\n"
    )


def table_screwdriver(rep: Report) -> str:
    objs = catalog.objects_of("screwdriver")
    head = (
        "| method | "
        + " | ".join(_label(o) for o in objs)
        + " | paper (handles) | time s (all handles) | paper time s |"
    )
    rows = [head, "|---" * (len(objs) + 4) + "|"]
    for m in rep.methods():
        cells = [rep.cell(m, o.shape) for o in objs]
        if all(c is None for c in cells):
            continue
        times = [t for c in cells if c is not None for t in ([c.time_s.mean] if c.time_s else [])]
        done = sum(c.successes for c in cells if c)
        total = sum(c.trials for c in cells if c)
        t = f"{sum(times) / len(times):.1f} ({done}/{total} finished)" if times else f"- ({done}/{total} finished)"
        rows.append(
            f"| {catalog.METHODS.get(m, m)} | "
            + " | ".join(_pct(c.progress) if c else "-" for c in cells)
            + f" | {_paper(catalog.paper_progress(m, 'screwdriver', ''))} | {t}"
            + f" | {_paper(catalog.paper_time_s(m, 'screwdriver', ''))} |"
        )
    return (
        "### Table II: screwdriver, progress ratio % (mean ± std [95 % bootstrap interval])\n\n"
        + "\n".join(rows)
        + "\n"
    )


def table_verdicts(rep: Report) -> str:
    v = rep.verdicts()
    if not v:
        return ""
    others = [m for m in rep.methods() if m != REFERENCE_METHOD]
    rows = [
        "| object | " + " | ".join(catalog.METHODS.get(m, m) for m in others) + " |",
        "|---" * (len(others) + 1) + "|",
    ]
    for shape, row in v.items():
        rows.append(f"| {shape} | " + " | ".join(row.get(m, Verdict.NO_DATA.value) for m in others) + " |")
    return (
        f"### {catalog.METHODS.get(REFERENCE_METHOD)} against each method\n\n"
        "ahead = higher mean progress and non-overlapping 95 % intervals; overlap = no claim either way.\n\n"
        + "\n".join(rows)
        + "\n"
    )


def table_failures(rep: Report) -> str:
    rows = ["| method | object | trials | fastened | failure reasons |", "|---|---|---|---|---|"]
    for c in rep.cells.values():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(c.failures.items())) or "-"
        rows.append(
            f"| {catalog.METHODS.get(c.method, c.method)} | {c.shape} | {c.trials} | {c.successes} | {reasons} |"
        )
    return "### Outcomes and failure reasons (World flags)\n\n" + "\n".join(rows) + "\n"


def table_perturbations(rep: Report) -> str:
    if not rep.perturbations:
        return ""
    rows = ["| method | object | perturbation | recovered | rate % [95 % interval] |", "|---|---|---|---|---|"]
    for p in rep.perturbations:
        rate = (
            "-"
            if p.rate is None
            else f"{100 * p.rate.mean:.0f} [{100 * p.rate.ci_low:.0f}, {100 * p.rate.ci_high:.0f}]"
        )
        rows.append(
            f"| {catalog.METHODS.get(p.method, p.method)} | {p.shape} | {p.perturbation} "
            f"| {p.recovered}/{p.trials} | {rate} |"
        )
    return (
        "### Perturbations (recovered = regains the turns it had before the perturbation + 0.5 within 30 s)\n\n"
        + "\n".join(rows)
        + "\n"
    )


def markdown(rep: Report) -> str:
    parts = [
        table_nuts(rep),
        table_screwdriver(rep),
        table_verdicts(rep),
        table_perturbations(rep),
        table_failures(rep),
    ]
    parts.append(
        f"Infrastructure: {rep.infra_attempts} trial attempt(s) lost to a twin node that died (each retried once "
        f"with the same seed on another worker); {rep.infra_excluded} trial(s) excluded from the means.\n"
    )
    return "\n".join(p for p in parts if p)
