"""The trial runner on real twin nodes: parallel workers, a node killed by its pid, resume without re-running."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from dexscrew_sdk import resources
from dexscrew_sdk.evaluation import report, seeds
from dexscrew_sdk.evaluation.methods import MethodConfig
from dexscrew_sdk.evaluation.results import STATUS_INFRA, STATUS_OK, TrialSpec
from dexscrew_sdk.evaluation.runner import Evaluation
from dexscrew_sdk.evaluation.worker import WorkerSetup

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def setup_for(tmp_path: Path) -> WorkerSetup:
    cfg = MethodConfig(["direct_sim2real"])
    return WorkerSetup(
        str(resources.config_path("twin_cell")), [], cfg, str(tmp_path / "traces"), str(tmp_path / "logs")
    )


def specs(n: int, start: int = 0) -> list[TrialSpec]:
    return [TrialSpec("direct_sim2real", "nut", "square", seeds.trial_seed(start + k), 1.5) for k in range(n)]


def test_a_killed_twin_node_is_an_infrastructure_failure_retried_once_on_another_worker(tmp_path: Path) -> None:
    events: list[tuple] = []
    killed: dict[str, int] = {}

    def on_event(e: tuple) -> None:
        events.append(e)
        if e[0] == "started" and not killed:
            killed[e[2]] = e[1]
            os.kill(e[3], signal.SIGKILL)  # the twin node under this trial, by its pid

    ev = Evaluation(setup_for(tmp_path), tmp_path, workers=2)
    results = ev.run(specs(3), on_event)
    (key, victim), = killed.items()  # fmt: skip
    attempts = [r for r in results if r.spec.key == key]
    assert [(r.status, r.attempt) for r in attempts] == [(STATUS_INFRA, 0), (STATUS_OK, 1)]
    assert attempts[0].worker == victim and attempts[1].worker != victim  # retried elsewhere, same seed
    assert "dead" in attempts[0].error
    rep = report.build(results)
    cell = rep.cell("direct_sim2real", "square")
    assert cell is not None and cell.trials == 3 and rep.infra_attempts == 1 and rep.infra_excluded == 0
    # the victim's worker started a fresh node and went on: every trial has an ok result
    assert {r.spec.key for r in results if r.status == STATUS_OK} == {s.key for s in specs(3)}
    assert all(r.sim_time_s == pytest.approx(1.5, abs=0.06) for r in results if r.status == STATUS_OK)


def test_an_interrupted_evaluation_resumes_without_re_running_finished_trials(tmp_path: Path) -> None:
    ev = Evaluation(setup_for(tmp_path), tmp_path, workers=1)
    first = ev.run(specs(1))
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["status"] == STATUS_OK
    started: list[str] = []
    again = Evaluation(setup_for(tmp_path), tmp_path, workers=1).run(
        specs(2), lambda e: started.append(e[2]) if e[0] == "started" else None
    )
    assert started == [specs(2)[1].key]  # only the new trial ran
    assert again[0].to_dict() == first[0].to_dict()
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 2


def test_a_worker_process_that_dies_loses_its_trial_to_a_retry_and_is_replaced(tmp_path: Path) -> None:
    killed: list[int] = []
    worker_pids: dict[int, int] = {}

    def on_event(e: tuple) -> None:
        if e[0] == "ready":
            worker_pids[e[1]] = e[3]
        if e[0] == "started" and not killed and e[1] in worker_pids:
            killed.append(e[1])
            os.kill(worker_pids[e[1]], signal.SIGKILL)  # the worker itself, not its node

    results = Evaluation(setup_for(tmp_path), tmp_path, workers=2).run(specs(3), on_event)
    infra = [r for r in results if r.status == STATUS_INFRA]
    assert len(infra) == 1 and infra[0].worker == killed[0] and "worker process exited" in infra[0].error
    retry = next(r for r in results if r.spec.key == infra[0].spec.key and r.status == STATUS_OK)
    assert retry.attempt == 1 and retry.worker != killed[0]
    assert {r.spec.key for r in results if r.status == STATUS_OK} == {s.key for s in specs(3)}
