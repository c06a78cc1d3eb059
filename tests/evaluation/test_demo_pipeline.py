"""The demo pipeline's plan, its refusal of missing stages, its failures and its resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dexscrew_sdk.cli import build_parser
from dexscrew_sdk.evaluation import demo_pipeline
from dexscrew_sdk.evaluation.demo_pipeline import DemoSize, Pipeline, StageMissing, Step, StepFailed, plan_steps


def test_every_planned_step_is_a_command_the_installed_verbs_accept(tmp_path: Path) -> None:
    parser = build_parser()
    groups = plan_steps(tmp_path, DemoSize(), "twin_cell", 2)
    steps = [s for g in groups for c in g for s in c]
    assert [s.stage for s in steps].count("record") == 4 and [s.stage for s in steps].count("train-bc") == 8
    for s in steps:
        if s.argv[0] in ("record", "train-bc", "eval"):  # verbs of other stages may not be installed yet
            try:
                parser.parse_args(s.argv)
            except SystemExit:
                pytest.fail(f"the installed `dexscrew {s.argv[0]}` refuses the planned step: {s.command}")
    ev = steps[-1].argv
    assert ev.count("--checkpoint") == 8 and ev.count("--demos") == 2


def test_the_paper_size_is_the_papers_counts() -> None:
    size = demo_pipeline.paper_size()
    assert size.demos_per_object == {"nut": 50, "screwdriver": 36} and size.trials == 10 and size.epochs == 200
    assert demo_pipeline.paper_size(epochs=30, preset="default").epochs == 30


def test_a_missing_stage_stops_the_demo_before_it_starts_and_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dexscrew_sdk.evaluation.methods.BC_DEPLOY_MODULE", "policies.bc.no_such_module")
    with pytest.raises(StageMissing, match=r"BC deployment on the cell \(policies.bc.no_such_module\)"):
        demo_pipeline.preflight()


def pipeline(tmp_path: Path, groups: list[list[list[Step]]]) -> tuple[Pipeline, list[str]]:
    said: list[str] = []
    p = Pipeline(tmp_path, DemoSize(), "twin_cell", 2, said.append)
    p.groups = groups
    return p, said


def test_a_failed_step_names_itself_its_log_and_its_command_and_a_rerun_resumes_after_the_last_finished(
    tmp_path: Path,
) -> None:
    ok = [Step("first", "eval", ["--help"]), Step("second", "eval", ["--help"])]
    bad = Step("broken", "eval", ["eval", "--trials", "0"])
    p, _ = pipeline(tmp_path, [[ok], [[bad]]])
    with pytest.raises(
        StepFailed, match=r"(?s)step 'broken' failed.*--trials must be >= 1.*rerun alone: dexscrew eval"
    ):
        p.run()
    done = json.loads((tmp_path / "pipeline.json").read_text())["done"]
    assert list(done) == ["first", "second"]
    p2, said = pipeline(tmp_path, [[ok], [[Step("broken", "eval", ["--help"])]]])
    p2.run()
    assert [line.strip() for line in said if "start:" in line] == ["start: broken"]  # finished steps not rerun
    assert "dexscrew eval --trials 0" not in (tmp_path / "report" / "commands.md").read_text()


def test_a_folder_of_another_size_is_refused(tmp_path: Path) -> None:
    p, _ = pipeline(tmp_path, [])
    p.run()
    other = Pipeline(tmp_path, DemoSize(trials=5), "twin_cell", 2, print)
    with pytest.raises(StepFailed, match="another size"):
        other.run()


def demo_args(*argv: str) -> object:
    import argparse

    from dexscrew_sdk.evaluation import demo_cli

    p = argparse.ArgumentParser()
    demo_cli.add_arguments(p)
    return p.parse_args(list(argv))


def test_demo_sizes_take_overrides_and_refuse_bad_ones() -> None:
    from dexscrew_sdk.errors import ConfigError
    from dexscrew_sdk.evaluation.demo_cli import size_from

    paper = size_from(demo_args("--paper", "--epochs", "30", "--preset", "default"))
    assert (paper.epochs, paper.preset, paper.trials, paper.demos_per_object["nut"]) == (30, "default", 10, 50)
    small = size_from(demo_args("--trial-seconds", "4", "--turns", "0.5"))
    assert small.trial_seconds == {"nut": 4.0, "screwdriver": 4.0} and small.turns_required == 0.5
    assert small.demos_per_object == {"nut": 6, "screwdriver": 6} and small.epochs >= 20 and small.trials >= 3
    for bad, msg in ((["--demos-per-object", "1"], "demos-per-object"), (["--epochs", "0"], "--epochs"),
                     (["--trial-seconds", "0"], "--trial-seconds"), (["--turns", "-1"], "--turns")):  # fmt: skip
        with pytest.raises(ConfigError, match=msg):
            size_from(demo_args(*bad))
