"""Reports: the paper's tables from trial results, the per-trial log, resume keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.evaluation import report
from dexscrew_sdk.evaluation.results import (
    STATUS_INFRA,
    ResultsLog,
    ResultsLogError,
    TrialResult,
    TrialSpec,
    finished_keys,
)


def result(method: str, shape: str, seed: int, ratio: float, **kw: object) -> TrialResult:
    task = "screwdriver" if shape in ("octagon", "dodecagon", "pentagon") else "nut"
    spec = TrialSpec(method, task, shape, seed, 60.0, kw.pop("perturbation", None))  # type: ignore[arg-type]
    done = ratio >= 1.0
    return TrialResult(spec, progress_ratio=ratio, success=done, time_to_fasten_s=40.0 + seed if done else None,
                       failure_reason=None if done else "stalled", **kw)  # type: ignore[arg-type]  # fmt: skip


def test_nut_table_puts_the_papers_numbers_beside_the_twins_and_dashes_where_it_has_none() -> None:
    rs = [result("bc_touch_hist", "square", s, r) for s, r in enumerate([1.0, 1.0, 0.9])]
    rs += [result("direct_sim2real", "square", s, 0.2) for s in range(3)]
    md = report.table_nuts(report.build(rs))
    row = next(line for line in md.splitlines() if line.startswith("| BC + touch + history |"))
    assert "96.7 ±" in row and "| 97.5 |" in row  # ours, then the paper's square figure
    direct = next(line for line in md.splitlines() if line.startswith("| Direct sim-to-real"))
    assert "20.0 ± 0.0 [20.0, 20.0] (n=3) | - |" in direct  # the paper has no nut figure for it
    time_row = [line for line in md.splitlines() if line.startswith("| BC + touch + history |")][1]
    assert "(2/3 finished)" in time_row and "| 124 |" in time_row  # finished trials only: 40 and 41 s


def test_screwdriver_table_has_the_papers_single_figure_per_method() -> None:
    rs = [result("expert_replay", "octagon", s, 0.5) for s in range(2)]
    md = report.table_screwdriver(report.build(rs))
    assert "| Expert replay | 50.0 ± 0.0 [50.0, 50.0] (n=2) | - | - | 50.8 |" in md


def test_verdicts_call_overlaps_overlaps() -> None:
    rs = [result("bc_touch_hist", "square", s, r) for s, r in enumerate([1.0, 0.97, 0.99, 1.0])]
    rs += [result("bc", "square", s, r) for s, r in enumerate([0.2, 0.3, 0.1, 0.25])]
    rs += [result("bc_hist", "square", s, r) for s, r in enumerate([1.0, 0.5, 1.0, 1.0])]
    v = report.build(rs).verdicts()["square"]
    assert v == {"bc": "ahead", "bc_hist": "overlap"}


def test_flat_keys_are_progress_method_shape() -> None:
    rep = report.build([result("bc", "cross", 0, 0.25), result("bc", "pentagon", 0, 0.75)])
    assert rep.flat() == {"progress.bc.cross": 0.25, "progress.bc.pentagon": 0.75}


def test_infrastructure_failures_are_counted_and_kept_out_of_the_means() -> None:
    lost = result("bc", "square", 0, 0.0, status=STATUS_INFRA, attempt=0)
    retried = result("bc", "square", 0, 1.0, attempt=1)
    lost_twice = [result("bc", "square", 1, 0.0, status=STATUS_INFRA, attempt=a) for a in (0, 1)]
    rep = report.build([lost, retried, *lost_twice, result("bc", "square", 2, 0.5)])
    c = rep.cell("bc", "square")
    assert c is not None and c.trials == 2 and c.excluded_infra == 1
    assert c.progress is not None and c.progress.mean == pytest.approx(0.75)
    assert rep.infra_attempts == 3 and rep.infra_excluded == 1
    assert "3 trial attempt(s) lost" in report.markdown(rep)


def test_perturbation_trials_report_recovery_separately() -> None:
    rs = [result("bc_touch_hist", "square", s, 0.7, perturbation="drag_fingers", recovered=s < 3) for s in range(4)]
    rep = report.build(rs)
    assert rep.cells == {} and rep.perturbations[0].recovered == 3 and rep.perturbations[0].trials == 4
    assert "| drag_fingers | 3/4 |" in report.table_perturbations(rep)


def test_results_log_round_trips_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    log = ResultsLog(tmp_path / "trials.jsonl")
    a, b = result("bc", "square", 0, 0.5), result("bc", "square", 1, 1.0)
    log.append(a)
    with log.path.open("a") as f:
        f.write('{"spec": {"method": "bc", "ta')  # the process died mid-append
    assert [r.spec.key for r in log.load()] == [a.spec.key]
    log.append(b)  # the torn tail is dropped before appending
    loaded = log.load()
    assert [r.to_dict() for r in loaded] == [a.to_dict(), b.to_dict()]
    assert all(json.loads(line) for line in log.path.read_text().splitlines())


def test_a_corrupt_line_in_the_middle_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('not json\n{"also": "bad"}\n')
    with pytest.raises(ResultsLogError, match=r"line 1.*move the file away"):
        ResultsLog(path).load()


def test_finished_keys_leave_a_first_infrastructure_failure_for_its_retry() -> None:
    lost = result("bc", "square", 0, 0.0, status=STATUS_INFRA, attempt=0)
    assert finished_keys([lost]) == {}
    again = result("bc", "square", 0, 0.0, status=STATUS_INFRA, attempt=1)
    assert list(finished_keys([lost, again])) == [lost.spec.key]


def test_bad_trial_specs_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="perturbation 'shake'"):
        TrialSpec("bc", "nut", "square", 1_000_000, 30.0, "shake")
    with pytest.raises(ConfigError, match="max_time_s"):
        TrialSpec("bc", "nut", "square", 1_000_000, 0.0)
