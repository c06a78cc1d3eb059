"""The skill runtime: exported and released skills on the kinematic reference hand and a RemoteHand."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.errors import CommandRejected
from dexscrew_sdk.reference import KinematicCell
from dexscrew_sdk.skills import Skill, SkillError
from dexscrew_sdk.skills.policy import SkillMetadata
from tests.conftest import NodeProcess
from tests.policies.conftest import OFFICIAL, needs_official

REPO = Path(__file__).resolve().parents[2]


class _CellClock:
    """The caller's clock for an in-process kinematic cell: each wait() advances one control period."""

    def __init__(self, cell: KinematicCell) -> None:
        self.cell = cell

    def wait(self) -> None:
        self.cell.advance(self.cell.control_period_s)


def _meta(task: str = "nut") -> SkillMetadata:
    from dexscrew_sdk import joints
    from dexscrew_sdk.skills.policy import official_metadata

    return official_metadata(task, joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)


def test_importing_the_sdk_does_not_import_torch() -> None:
    code = "import dexscrew_sdk, dexscrew_sdk.skills, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_nan_actions_never_reach_the_hand_and_stop_holds_position() -> None:
    cell = KinematicCell()
    sent: list[np.ndarray] = []
    original = cell.hand._apply_command

    def spy(q, kp, kd, seq):  # what actually reaches the device
        sent.append(q.copy())
        original(q, kp, kd, seq)

    cell.hand._apply_command = spy
    calls = iter([np.full(12, 0.5), np.full(12, np.nan), np.array([np.inf] + [0.0] * 11), np.full(12, -0.5)])
    skill = Skill(lambda frames, hist: next(calls), _meta())
    skill.start(cell.hand)
    targets = []
    for _ in range(4):
        targets.append(skill.step())
        cell.advance(0.05)
    assert skill.nan_actions == 2
    np.testing.assert_array_equal(targets[1], targets[0])  # held the previous target
    assert all(np.isfinite(q).all() for q in sent)
    assert np.all(targets[0][skill.meta.mask] == targets[-1][skill.meta.mask])  # masked joints never move
    skill.stop()
    np.testing.assert_allclose(cell.hand.target, cell.hand.q)  # holds where it is
    skill.stop()  # idempotent
    with pytest.raises(SkillError, match="before start"):
        skill.step()


def test_targets_respect_the_hand_limits_even_when_narrower() -> None:
    from dexscrew_sdk.interfaces import xhand_limits

    narrow = xhand_limits().narrowed(upper_rad=np.full(12, 1.0))
    cell = KinematicCell(hand_limits=narrow)
    skill = Skill(lambda frames, hist: np.ones(12), _meta("screwdriver"))
    skill.start(cell.hand)
    for _ in range(40):
        t = skill.step()
        cell.advance(0.05)
    assert (t <= 1.0 + 1e-12).all()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported skill (trained for two iterations on the synthetic world)."""
    from types import SimpleNamespace

    from policies.rl.backends import pybullet as pb_backend
    from policies.rl.export import export_skill
    from policies.rl.train import main as train_main
    from tests.policies.fake_world import FakeWorld

    out = tmp_path_factory.mktemp("skill")
    mp = pytest.MonkeyPatch()
    mp.setattr(pb_backend, "_make_world", lambda task, n, seed, **k: FakeWorld(SimpleNamespace(num_envs=n, seed=seed)))
    common = ["--task", "nut", "--num-envs", "4", "--workers", "1", "--iterations", "1", "--horizon", "4"]
    train_main(["teacher", *common, "--actor-hidden", "16", "--out", str(out / "t")])
    train_main(
        [
            "student",
            *common,
            "--actor-hidden",
            "16",
            "--out",
            str(out / "s"),
            "--teacher",
            str(out / "t/checkpoint_last.pt"),
        ]
    )
    mp.undo()
    export_skill(out / "s" / "checkpoint_last.pt", out / "skill")
    return out / "skill"


def test_exported_skill_runs_on_the_reference_hand(exported: Path) -> None:
    skill = Skill.load(exported)
    cell = KinematicCell()
    stats = skill.run(cell.hand, _CellClock(cell), duration_s=1.0)
    assert stats.steps == 20 and stats.nan_actions == 0
    assert skill.meta.task == "nut" and skill.meta.source == "dexscrew"


def test_bad_skill_files_are_refused_with_what_differs(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(exported, bad)
    (bad / "skill.json").unlink()
    with pytest.raises(SkillError, match=r"metadata .* is missing"):
        Skill.load(bad)
    shutil.copy(exported / "skill.json", bad / "skill.json")
    meta = json.loads((bad / "skill.json").read_text())
    meta["obs_layout"]["obs_dim"] = 96
    (bad / "skill.json").write_text(json.dumps(meta))
    with pytest.raises(SkillError, match=r"obs_dim=96 \(expected 72\)"):
        Skill.load(bad)
    meta["obs_layout"]["obs_dim"] = 72
    meta["joint_order"][0] = "wrist"
    (bad / "skill.json").write_text(json.dumps(meta))
    with pytest.raises(SkillError, match=r"joint_order .*thumb_bend"):
        Skill.load(bad)
    shutil.copy(exported / "skill.json", bad / "skill.json")
    (bad / "skill.pt").write_bytes((bad / "skill.pt").read_bytes() + b"\0")
    with pytest.raises(SkillError, match="does not belong"):
        Skill.load(bad)
    (bad / "skill.pt").write_bytes(b"garbage")
    with pytest.raises(SkillError, match="not a TorchScript skill"):
        Skill.load(bad)


def test_permuted_joint_order_in_metadata_is_mapped(exported: Path, tmp_path: Path) -> None:
    """A skill stored in another joint order runs identically once mapped by names."""
    import hashlib

    import torch

    perm = list(range(12))[::-1]  # stored order: canonical reversed
    inner = torch.jit.load(str(exported / "skill.pt"))

    class Reversed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.idx = perm + [12 + i for i in perm]

        def forward(self, obs: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
            b = obs.shape[0]
            canon = obs.reshape(b, 3, 24)[:, :, self.idx].reshape(b, 72)  # reversing is its own inverse
            return self.inner(canon, hist[:, :, self.idx])[:, perm]

    out = tmp_path / "reversed"
    out.mkdir()
    torch.jit.trace(Reversed(), (torch.zeros(1, 72), torch.zeros(1, 30, 24))).save(str(out / "skill.pt"))
    meta = json.loads((exported / "skill.json").read_text())
    for key in ("joint_order", "lower_rad", "upper_rad", "initial_targets_rad"):
        meta[key] = [meta[key][i] for i in perm]
    fill = meta["history_fill_rad"]
    meta["history_fill_rad"] = [fill[i] for i in perm] + [fill[12 + i] for i in perm]
    meta["sha256"] = hashlib.sha256((out / "skill.pt").read_bytes()).hexdigest()
    (out / "skill.json").write_text(json.dumps(meta))
    a, b = Skill.load(exported), Skill.load(out)
    np.testing.assert_allclose(b.meta.lower_rad, a.meta.lower_rad)
    rng = np.random.default_rng(0)
    frames, hist = rng.normal(size=(3, 24)), rng.normal(size=(30, 24))
    np.testing.assert_allclose(b.policy(frames, hist), a.policy(frames, hist), atol=1e-6)


@pytest.mark.integration
def test_skill_drives_a_remote_hand(exported: Path, reference_node: NodeProcess) -> None:
    from dexscrew_sdk.cell import Cell

    with Cell.connect(reference_node.config, reference_node.overrides) as cell:
        skill = Skill.load(exported)
        stats = skill.run(cell.hand, cell.clock, duration_s=0.5)
        assert stats.steps == 10
        q = cell.hand.state().q_rad
        assert np.isfinite(q).all()
        with pytest.raises(CommandRejected):
            cell.hand.command(np.full(12, np.nan))


@needs_official
@pytest.mark.parametrize("task", ["nut", "screwdriver"])
def test_released_checkpoints_load_and_act(task: str) -> None:
    skill = Skill.official(task, OFFICIAL)
    assert skill.meta.source == "official" and skill.meta.action_scale == pytest.approx(0.04167)
    cell = KinematicCell()
    skill.start(cell.hand)
    first = skill.step()
    for _ in range(19):
        cell.advance(0.05)
        t = skill.step()
    assert np.isfinite(t).all() and not np.allclose(first, t)
    skill.stop()


def test_missing_official_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="not found"):
        Skill.official("nut", tmp_path)


@pytest.mark.parametrize("task", ["nut", "screwdriver"])
def test_shipped_skills_load_and_record_how_they_were_trained(task: str) -> None:
    folder = REPO / "policies" / "skills" / task
    skill = Skill.load(folder)
    assert skill.meta.task == task and skill.meta.source == "dexscrew"
    assert (folder / "skill.pt").stat().st_size < 2_000_000
    record = (folder / "command.txt").read_text()
    released = {"nut": "nut_bolt.pt", "screwdriver": "screwdriver.pt"}[task]
    assert f"dexscrew train-rl student --task {task} --teacher" in record and released in record
    trained = json.loads((folder / "skill.json").read_text())["training"]
    assert trained["teacher"]["kind"] == "released" and trained["teacher"]["file"] == released
    cell = KinematicCell()
    stats = skill.run(cell.hand, _CellClock(cell), duration_s=0.5)
    assert stats.steps == 10 and stats.nan_actions == 0
