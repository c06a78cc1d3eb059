"""`dexscrew eval` refuses bad input by name, before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.evaluation import cli, seeds
from dexscrew_sdk.evaluation.catalog import find_object
from dexscrew_sdk.evaluation.evaluate import EvalPlan


def test_objects_are_named_by_shape_task_or_all() -> None:
    assert [o.shape for o in cli.parse_objects(["nut"])] == ["square", "triangular", "hexagonal", "cross"]
    assert [o.shape for o in cli.parse_objects(["screwdriver/pentagon", "square"])] == ["pentagon", "square"]
    assert len(cli.parse_objects(None)) == 7
    with pytest.raises(ConfigError, match="unknown object 'nut/octagon'"):
        cli.parse_objects(["nut/octagon"])


def test_checkpoints_need_method_task_and_an_existing_file(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"x")
    assert cli.parse_checkpoints([f"bc_touch:nut={ckpt}"]) == {"bc_touch": {"nut": str(ckpt)}}
    for bad in (f"bc_touch={ckpt}", f"direct_sim2real:nut={ckpt}", f"bc:bolt={ckpt}"):
        with pytest.raises(ConfigError, match="use METHOD:TASK=PATH"):
            cli.parse_checkpoints([bad])
    with pytest.raises(ConfigError, match="does not exist"):
        cli.parse_checkpoints([f"bc:nut={tmp_path / 'missing.pt'}"])


def test_max_time_is_per_task_and_positive() -> None:
    assert cli.parse_max_time("nut=30")["nut"] == 30.0
    for bad in ("nut", "nut=-1", "bolt=3", "nut=abc"):
        with pytest.raises(ConfigError, match="--max-time"):
            cli.parse_max_time(bad)


def test_every_trial_seed_is_an_evaluation_seed_shared_by_all_methods() -> None:
    plan = EvalPlan(["bc", "bc_touch_hist"], [find_object("nut", "square")], trials=3, perturbation_trials=2)
    specs = plan.specs()
    assert all(seeds.check_evaluation_seed(s.seed) == s.seed for s in specs)
    plain = [s for s in specs if s.perturbation is None]
    assert {s.seed for s in plain if s.method == "bc"} == {s.seed for s in plain if s.method == "bc_touch_hist"}
    perturbed = [s for s in specs if s.perturbation is not None]
    assert len(perturbed) == 4 and {s.method for s in perturbed} == {"bc_touch_hist"}
    assert not {s.seed for s in perturbed} & {s.seed for s in plain}
    with pytest.raises(ConfigError, match=r"seed 100000 is not an evaluation seed \(it belongs to recording\)"):
        seeds.check_evaluation_seed(100_000)


def test_the_command_line_names_bad_values_and_exits_2() -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "eval", "--trials", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "--trials must be >= 1" in done.stderr
