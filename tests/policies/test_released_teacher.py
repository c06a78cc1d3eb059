"""Distilling the authors' released students into the project's own skill format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dexscrew_sdk.skills import layout
from dexscrew_sdk.skills.policy import load_policy
from policies.rl.checkpoint import CheckpointError
from policies.rl.config import StudentConfig
from policies.rl.distill import Distillation
from policies.rl.models import ActorCritic
from policies.rl.released import TRAINING_OBS_LAG, ReleasedTeacher, is_released
from policies.rl.task import Observations
from policies.rl.train import main as train_main
from tests.policies.conftest import OFFICIAL, needs_official
from tests.policies.test_training import _args, _log


def _histories(n: int, seed: int = 0) -> torch.Tensor:
    """Plausible hand histories: the deploy grasp plus a wander, targets near the positions."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.as_tensor(layout.init_targets_sdk("nut"), dtype=torch.float32)
    q = base + 0.1 * torch.randn(n, layout.HIST_LEN, 12, generator=gen).cumsum(1) / 5
    return torch.cat([q, q + 0.02 * torch.randn(n, layout.HIST_LEN, 12, generator=gen)], -1)


@needs_official
@pytest.mark.parametrize("task", ["nut", "screwdriver"])
def test_batched_labels_equal_the_skill_runtimes_adaptor_with_the_training_lag(task: str) -> None:
    teacher = ReleasedTeacher(OFFICIAL / layout.OFFICIAL_FILES[task], task)
    policy, meta = load_policy(OFFICIAL / layout.OFFICIAL_FILES[task])
    hist = _histories(5)
    labels = teacher.label(hist).numpy()
    lag = TRAINING_OBS_LAG
    for i, h in enumerate(hist.double().numpy()):
        frames = h[len(h) - layout.OBS_FRAMES - lag : len(h) - lag]
        expected = np.where(meta.mask, 0.0, policy(frames, h))
        np.testing.assert_allclose(labels[i], expected, atol=1e-5)
    # the lag matters: the same histories read with the deploy frames give other actions
    deploy = np.stack([policy(h[-layout.OBS_FRAMES :], h) for h in hist.double().numpy()])
    assert np.abs(np.where(meta.mask, 0.0, deploy) - labels).max() > 1e-3


@needs_official
def test_the_released_file_must_match_the_task(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"the released screwdriver student is screwdriver\.pt"):
        ReleasedTeacher(OFFICIAL / "nut_bolt.pt", "screwdriver")
    fake = tmp_path / "nut_bolt.pt"
    fake.write_bytes(b"not a torchscript file")
    with pytest.raises(CheckpointError, match="not a released DexScrew student"):
        ReleasedTeacher(fake, "nut")
    with pytest.raises(CheckpointError, match="does not exist"):
        ReleasedTeacher(tmp_path / "missing" / "nut_bolt.pt", "nut")


def test_released_files_are_recognised_by_name() -> None:
    assert is_released(Path("x/nut_bolt.pt")) and is_released(Path("screwdriver.pt"))
    assert not is_released(Path("runs/teacher/checkpoint_last.pt"))


class _ConstantTeacher:
    """Stands in for a released student: the same label for every history."""

    def __init__(self) -> None:
        self.target = torch.linspace(-0.8, 0.8, 12)

    def label(self, hist: torch.Tensor) -> torch.Tensor:
        return self.target.expand(hist.shape[0], -1)


def test_a_released_teacher_trains_the_students_actor_on_actions_alone() -> None:
    shell = ActorCritic(72, 5, 12, (32,), (8,), 8)
    before = {k: v.clone() for k, v in shell.actor.state_dict().items()}
    d = Distillation(shell, StudentConfig(epochs=20, mini_batches=1, lr=3e-3), 30, 24, released=_ConstantTeacher())
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(15):
        o = Observations(torch.randn(16, 72, generator=gen), torch.randn(16, 5, generator=gen), _histories(16))
        d.act(o)
        stats = d.update()
        assert stats["loss_latent"] == 0.0
        losses.append(stats["loss_action"])
    assert losses[-1] < 0.1 * losses[0]
    assert any(not torch.equal(before[k], v) for k, v in d.student.actor.state_dict().items())


@needs_official
@pytest.mark.usefixtures("fake_world")
def test_student_stage_distils_a_released_student_and_exports_a_skill(tmp_path: Path) -> None:
    out = tmp_path / "student"
    teacher = str(OFFICIAL / "nut_bolt.pt")
    assert train_main(_args("student", out, "--iterations", "2", "--teacher", teacher, "--epochs", "2")) == 0
    assert all(np.isfinite(r["loss_action"]) for r in _log(out))
    from policies.rl.export import export_skill

    pt = export_skill(out / "checkpoint_last.pt", tmp_path / "skill")
    meta = json.loads(pt.with_suffix(".json").read_text())
    assert meta["training"]["teacher"]["kind"] == "released"
    assert meta["training"]["teacher"]["file"] == "nut_bolt.pt" and len(meta["training"]["teacher"]["sha256"]) == 64
    with pytest.raises(SystemExit, match="teacher-action-prob must lie in"):
        train_main(_args("student", out, "--teacher", teacher, "--teacher-action-prob", "1.5"))


@pytest.mark.usefixtures("fake_world")
def test_a_screwdriver_skill_starts_where_its_training_started(tmp_path: Path) -> None:
    """The authors' screwdriver start (ring finger on the handle) is the task's and the exported skill's."""
    from policies.rl.export import export_skill
    from twins.rl_recipe import TRAIN_INIT_RAD

    t_out, s_out = tmp_path / "teacher", tmp_path / "student"
    args = ["--iterations", "1"]
    assert train_main([*_args("teacher", t_out, *args)[:2], "screwdriver", *_args("teacher", t_out, *args)[3:]]) == 0
    student = _args("student", s_out, *args, "--teacher", str(t_out / "checkpoint_last.pt"))
    assert train_main([*student[:2], "screwdriver", *student[3:]]) == 0
    meta = json.loads(export_skill(s_out / "checkpoint_last.pt", tmp_path / "skill").with_suffix(".json").read_text())
    lo, hi = np.array(meta["lower_rad"]), np.array(meta["upper_rad"])
    np.testing.assert_allclose(meta["initial_targets_rad"], np.clip(TRAIN_INIT_RAD["screwdriver"], lo, hi), atol=1e-6)
    assert meta["history_fill_rad"] == meta["initial_targets_rad"] * 2
