"""An evaluation from plan to report folder: trial specs, the parallel run, tables, JSON, plots.

The folder holds trials.jsonl (the durable log, one line per attempt),
trials.json (every trial), summary.json (statistics, verdicts, seed ranges),
tables.md (Tables I and II beside the paper's numbers) and plots/*.png.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk.evaluation import catalog, plots, report, seeds
from dexscrew_sdk.evaluation.methods import MethodConfig, check_methods
from dexscrew_sdk.evaluation.results import STATUS_OK, TrialResult, TrialSpec, write_json_atomic
from dexscrew_sdk.evaluation.runner import Evaluation, Event
from dexscrew_sdk.evaluation.trial import trace_path
from dexscrew_sdk.evaluation.worker import WorkerSetup

DEFAULT_MAX_TIME_S: dict[str, float] = {"nut": 90.0, "screwdriver": 120.0}
TOUCH_PLOT_METHODS: tuple[str, ...] = ("skill_follower", "bc_touch_hist", "direct_sim2real")


@dataclass
class EvalPlan:
    methods: list[str]
    objects: list[catalog.EvalObject]
    trials: int = 3
    perturbation_trials: int = 0  # per perturbation and object
    perturbation_methods: list[str] = field(default_factory=lambda: ["bc_touch_hist"])
    perturbation_objects: list[str] | None = None  # shapes; None: every object
    max_time_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_TIME_S))
    first_seed_index: int = 0

    def specs(self) -> list[TrialSpec]:
        """Method-major per object and seed; every method sees the same seeded scenes (paired)."""
        out = []
        for o in self.objects:
            for k in range(self.trials):
                seed = seeds.trial_seed(self.first_seed_index + k)
                for m in self.methods:
                    out.append(TrialSpec(m, o.task, o.shape, seed, self.max_time_s[o.task], trace=k == 0))
            perturbed = self.perturbation_trials and (
                self.perturbation_objects is None or o.shape in self.perturbation_objects
            )
            for pert in ("drag_fingers", "counter_rotate") if perturbed else ():
                for k in range(self.perturbation_trials):
                    seed = seeds.trial_seed(self.first_seed_index + k, perturbed=True)
                    for m in self.perturbation_methods:
                        if m in self.methods:
                            out.append(TrialSpec(m, o.task, o.shape, seed, self.max_time_s[o.task], pert))
        return out


def evaluate(
    plan: EvalPlan,
    method_cfg: MethodConfig,
    config_path: Path,
    overrides: list[str],
    out_dir: Path,
    workers: int | None = None,
    on_event: Any = None,
) -> report.Report:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = plan.specs()
    for s in specs:
        seeds.check_evaluation_seed(s.seed)
    check_methods(method_cfg, {o.task for o in plan.objects})  # refuse before anything moves
    write_json_atomic(out_dir / "plan.json", {"plan": _plan_dict(plan), "methods": asdict(method_cfg),
                                              "seed_ranges": seeds.describe(), "config": str(config_path),
                                              "overrides": overrides})  # fmt: skip
    setup = WorkerSetup(str(config_path), list(overrides), method_cfg, str(out_dir / "traces"), str(out_dir / "logs"))
    results = Evaluation(setup, out_dir, workers).run(specs, on_event)
    return write_report(results, out_dir)


def _plan_dict(plan: EvalPlan) -> dict[str, Any]:
    d = asdict(plan)
    d["objects"] = [f"{o.task}/{o.shape}" for o in plan.objects]
    return d


def write_report(results: list[TrialResult], out_dir: Path) -> report.Report:
    rep = report.build(results)
    write_json_atomic(out_dir / "trials.json", {"trials": [r.to_dict() for r in results]})
    write_json_atomic(out_dir / "summary.json", {**rep.to_dict(), "seed_ranges": seeds.describe()})
    text = report.markdown(rep) + "\nSeed ranges (disjoint): " + json.dumps(seeds.describe()) + "\n"
    (out_dir / "tables.md").write_text(text)
    write_plots(results, rep, out_dir / "plots")
    return rep


def write_plots(results: list[TrialResult], rep: report.Report, plot_dir: Path) -> list[Path]:
    out: list[Path] = []
    ok = [r for r in results if r.status == STATUS_OK and r.spec.perturbation is None]
    curves: dict[str, dict[str, list[tuple[list[float], list[float]]]]] = defaultdict(lambda: defaultdict(list))
    for r in ok:
        tr = np.asarray(r.progress_trace, dtype=float).reshape(-1, 2)
        curves[r.spec.shape][r.spec.method].append((tr[:, 0].tolist(), tr[:, 1].tolist()))
    for shape, per_method in curves.items():
        out.append(plots.progress_over_time(plot_dir / f"progress_{shape}.png", per_method, f"progress: {shape}"))
    for task in ("nut", "screwdriver"):
        cells: dict[str, dict[str, tuple[float, float, float, float]]] = defaultdict(dict)
        for c in rep.cells.values():
            if c.task == task and c.progress is not None:
                p = c.progress
                cells[c.method][c.shape] = (p.mean, p.ci_low, p.ci_high, c.successes / max(1, c.trials))
        if cells:
            out.append(plots.outcome_by_shape(plot_dir / f"outcome_{task}.png", cells, f"{task}: outcome by shape"))
    traced = [r for r in ok if r.spec.trace and r.spec.method in TOUCH_PLOT_METHODS]
    for r in traced:
        path = trace_path(plot_dir.parent / "traces", r.spec)
        if not path.exists():
            continue
        with np.load(path) as z:
            t = z["t_s"]
            spans = plots.skill_spans(t, z["skill_on"])
            normal = {"thumb": z["thumb_normal_n"], "index": z["index_normal_n"]}
        name = f"touch_{r.spec.method}_{r.spec.shape}.png"
        out.append(plots.tactile_heatmap(plot_dir / name, t, normal, spans, f"{r.spec.method} on {r.spec.shape}"))
    return out


def printable(event: Event) -> str | None:
    kind = event[0]
    if kind == "ready":
        return f"worker {event[1]}: twin node pid {event[2]} ready"
    if kind == "result":
        r: TrialResult = event[2]
        if r.status != STATUS_OK:
            return f"worker {event[1]}: {r.spec.key}: INFRASTRUCTURE FAILURE ({r.error}); attempt {r.attempt}"
    return None
