"""Teacher PPO and student distillation pipelines, checkpoints, resume and export (synthetic world)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from policies.rl.checkpoint import CheckpointError
from policies.rl.config import PPOConfig, StudentConfig
from policies.rl.distill import Distillation, action_loss
from policies.rl.models import ActorCritic, RunningNorm, StudentActorCritic
from policies.rl.ppo import PPO, Rollout
from policies.rl.task import Observations
from policies.rl.train import main as train_main


@settings(max_examples=25, deadline=None)
@given(st.lists(arrays(np.float32, (7, 3), elements=st.floats(-100, 100, width=32)), min_size=1, max_size=4))
def test_running_norm_matches_batch_statistics(chunks: list[np.ndarray]) -> None:
    norm = RunningNorm((3,), clip=1e9)
    for c in chunks:
        norm.update(torch.as_tensor(c))
    allx = np.concatenate(chunks).astype(np.float64)
    w = 1e-4  # the prior: a weight-w pseudo-sample of mean 0, variance 1
    mean = allx.sum(0) / (len(allx) + w)
    var = (w + (allx**2).sum(0)) / (len(allx) + w) - mean**2
    np.testing.assert_allclose(norm.mean.numpy(), mean, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(norm.var.numpy(), var, rtol=1e-3, atol=1e-2)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float32, (4, 12), elements=st.floats(-3, 3, width=32)),
    arrays(np.float32, (4, 12), elements=st.sampled_from([-1.0, -0.5, 0.0, 0.7, 1.0])),
)
def test_action_loss_ignores_only_overshoot_past_the_teachers_saturated_limit(a_s: np.ndarray, a_t: np.ndarray) -> None:
    same_side_past = ((a_t >= 1) & (a_s > 1)) | ((a_t <= -1) & (a_s < -1))
    err = np.where(same_side_past, 0.0, a_s.astype(np.float64) - a_t)
    expected = (err**2).sum(-1).mean()
    assert float(action_loss(torch.as_tensor(a_s), torch.as_tensor(a_t))) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_action_loss_penalises_the_wrong_side_of_a_saturated_teacher() -> None:
    t = torch.ones(1, 12)
    assert float(action_loss(torch.full((1, 12), 3.0), t)) == 0.0
    assert float(action_loss(torch.full((1, 12), -3.0), t)) == pytest.approx(12 * 16.0)
    loss = action_loss(torch.full((1, 12), -3.0, requires_grad=True), t)
    assert loss.requires_grad


def test_action_std_cap_holds_through_loading_and_updates() -> None:
    model = ActorCritic(6, 3, 2, (16,), (8,), 4, init_log_std=0.0)
    free = PPO(model, PPOConfig(mini_batches=2, epochs=1))  # std 1: a checkpoint trained without the cap
    capped = PPO(ActorCritic(6, 3, 2, (16,), (8,), 4), PPOConfig(mini_batches=2, epochs=1, max_action_std=0.3))
    capped.load_state_dict(free.state_dict())
    gen = torch.Generator().manual_seed(0)
    roll = Rollout(4, 8, 6, 3, 2, torch.device("cpu"))
    for _ in range(4):
        obs, priv = torch.randn(8, 6, generator=gen), torch.randn(8, 3, generator=gen)
        a, mu, sigma, logp, value = capped.act(obs, priv)
        assert torch.all(sigma <= 0.3 + 1e-6)
        roll.add(
            obs=obs,
            priv=priv,
            actions=a,
            mu=mu,
            sigma=sigma,
            logp=logp,
            values=value,
            rewards=torch.randn(8, generator=gen),
            dones=torch.zeros(8),
        )
    roll.compute_returns(torch.zeros(8), 0.99, 0.95)
    capped.cfg.entropy_coef = 1.0  # entropy pushes the std up through the update
    capped.update(roll)
    assert capped.model.log_std.exp().max() <= 0.3 + 1e-6


@pytest.mark.parametrize("clamp", [False, True])
def test_teacher_explores_around_the_clamped_mean_when_asked(clamp: bool) -> None:
    model = ActorCritic(6, 3, 12, (16,), (8,), 4, init_log_std=-1.0)
    with torch.no_grad():  # a teacher far past its limits on most joints
        model.actor[-1].bias.copy_(torch.linspace(-4.0, 4.0, 12))
    ppo = PPO(model, PPOConfig(clamp_mean=clamp))
    gen = torch.Generator().manual_seed(0)
    obs, priv = torch.randn(4, 6, generator=gen), torch.randn(4, 3, generator=gen)
    _, mu, _, _, _ = ppo.act(obs, priv)
    raw = model(obs, priv)[0].detach()
    torch.testing.assert_close(mu, raw.clamp(-1.0, 1.0) if clamp else raw)
    mu_grad, _, _ = ppo._policy(obs, priv, None)
    mu_grad.sum().backward()  # straight through: a saturated joint still gets its gradient
    assert torch.all(model.actor[-1].bias.grad == 4.0)


def test_clamp_action_mean_is_a_teacher_flag() -> None:
    import argparse

    from policies.rl.train import add_train_args, config_from_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    assert config_from_args(p.parse_args(["teacher", "--task", "nut", "--clamp-action-mean"])).ppo.clamp_mean
    assert not config_from_args(p.parse_args(["teacher", "--task", "nut"])).ppo.clamp_mean


def test_student_actor_critic_acts_as_the_student_and_judges_as_the_teacher() -> None:
    teacher = ActorCritic(72, 5, 12, (16,), (8,), 8)
    student = Distillation(teacher, StudentConfig(), 30, 24).student.requires_grad_(True)  # as loaded to fine-tune
    model = StudentActorCritic(student, teacher, init_std=0.3)
    gen = torch.Generator().manual_seed(0)
    obs, priv, hist = torch.randn(4, 72, generator=gen), torch.randn(4, 5, generator=gen), torch.randn(4, 30, 24)
    with torch.no_grad():  # a student far past its limits, as distilled students often are
        student.actor[-1].bias.copy_(torch.linspace(-4.0, 4.0, 12))
    mu, log_std, value, z = model(obs, priv, hist)
    raw, z_student = student(obs, hist)
    assert raw.abs().max() > 2.0
    torch.testing.assert_close((mu, z), (raw, z_student))
    centred, _, _ = PPO(model, PPOConfig(clamp_mean=True))._policy(obs, priv, hist)
    torch.testing.assert_close(centred, raw.clamp(-1.0, 1.0))  # PPO explores around the deployed action
    centred.sum().backward()  # the clamp passes the gradient straight through, so PPO can pull a joint back
    assert torch.all(student.actor[-1].bias.grad == 4.0)  # one per sample of the batch, saturated or not
    torch.testing.assert_close(value, teacher(obs, priv)[2])
    torch.testing.assert_close(log_std.exp(), torch.full((4, 12), 0.3))
    with pytest.raises(ValueError, match="history"):
        model(obs, priv)


def test_distillation_aggregates_recent_rollouts() -> None:
    teacher = ActorCritic(72, 5, 12, (16,), (8,), 8)
    d = Distillation(teacher, StudentConfig(dataset_iterations=3, epochs=1, mini_batches=2), 30, 24)
    gen = torch.Generator().manual_seed(0)
    sizes = []
    for _ in range(5):
        for _ in range(2):
            obs, priv = torch.randn(4, 72, generator=gen), torch.randn(4, 5, generator=gen)
            o = Observations(obs, priv, torch.randn(4, 30, 24, generator=gen))
            d.act(o)
        stats = d.update()
        assert np.isfinite(stats["loss_action"]) and np.isfinite(stats["loss_latent"])
        sizes.append(sum(x["obs"].shape[0] for x in d._dataset))
    assert sizes == [8, 16, 24, 24, 24]
    # distilling trains the history encoder only; the actor stays the teacher's (finetune trains it)
    torch.testing.assert_close(d.student.actor.state_dict(), teacher.actor.state_dict())


def _args(stage: str, out: Path, *extra: str) -> list[str]:
    return [
        stage,
        "--task",
        "nut",
        "--num-envs",
        "6",
        "--workers",
        "1",
        "--horizon",
        "8",
        "--mini-batches",
        "2",
        "--actor-hidden",
        "32",
        "32",
        "--save-every",
        "2",
        "--out",
        str(out),
        *extra,
    ]


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.usefixtures("fake_world")
def test_teacher_student_export_pipeline(tmp_path: Path) -> None:
    t_out, s_out = tmp_path / "teacher", tmp_path / "student"
    assert train_main(_args("teacher", t_out, "--iterations", "3")) == 0
    log = _log(t_out)
    assert [r["iteration"] for r in log] == [1, 2, 3]
    for r in log:
        assert all(np.isfinite(r[k]) for k in ("loss_policy", "loss_value", "kl", "reward_per_step", "r_rotation"))
    assert log[-1]["env_steps"] == 3 * 8 * 6
    assert (t_out / "checkpoint_last.pt").is_file() and (t_out / "checkpoint_000002.pt").is_file()
    assert "--iterations 3" in (t_out / "command.txt").read_text()

    # resume continues the count to the new total
    assert train_main(_args("teacher", t_out, "--iterations", "5", "--resume", str(t_out / "checkpoint_last.pt"))) == 0
    assert [r["iteration"] for r in _log(t_out)][-2:] == [4, 5]

    teacher = str(t_out / "checkpoint_last.pt")
    assert train_main(_args("student", s_out, "--iterations", "3", "--teacher", teacher)) == 0
    slog = _log(s_out)
    assert len(slog) == 3 and all(np.isfinite(r["loss_action"]) and np.isfinite(r["loss_latent"]) for r in slog)

    from policies.rl.export import export_skill

    pt = export_skill(s_out / "checkpoint_last.pt", tmp_path / "skill")
    meta = json.loads(pt.with_suffix(".json").read_text())
    assert meta["obs_layout"]["obs_dim"] == 72 and meta["masked_joints"] == [
        "ring_j1",
        "ring_j2",
        "pinky_j1",
        "pinky_j2",
    ]
    assert pt.stat().st_size < 2_000_000

    with pytest.raises(CheckpointError, match="'teacher' checkpoint, expected 'student' or 'finetune'"):
        export_skill(Path(teacher), tmp_path / "nope")


def test_unclamped_torques_reach_the_world_and_the_exported_skill(tmp_path: Path, fake_world) -> None:
    from policies.rl.evaluate import trained_clamped
    from policies.rl.export import export_skill

    t_out, s_out = tmp_path / "teacher", tmp_path / "student"
    assert train_main(_args("teacher", t_out, "--iterations", "1")) == 0
    assert fake_world[-1].cfg.clamp_torques is True  # the default: the authors' effective effort array
    teacher = str(t_out / "checkpoint_last.pt")
    assert train_main(_args("student", s_out, "--iterations", "1", "--teacher", teacher, "--unclamped-torques")) == 0
    assert fake_world[-1].cfg.clamp_torques is False
    skill = export_skill(s_out / "checkpoint_last.pt", tmp_path / "skill").parent
    assert json.loads((skill / "skill.json").read_text())["training"]["torques"] == "unclamped"
    assert not trained_clamped(skill)


@pytest.mark.usefixtures("fake_world")
def test_cpu_updates_run_on_every_core_and_rollouts_on_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between rollouts the physics workers are idle, so the network updates take all usable cores."""
    from policies.rl.backends.pybullet import usable_cpus

    if len(usable_cpus()) < 2:
        pytest.skip("one usable core: updates and rollouts would both run on one thread")
    seen: dict[str, list[int]] = {"update": [], "act": []}
    for cls, name, key in ((PPO, "update", "update"), (Distillation, "update", "update"), (PPO, "act", "act")):
        original = getattr(cls, name)

        def spy(self, *a, _original=original, _key=key, **k):  # type: ignore[no-untyped-def]
            seen[_key].append(torch.get_num_threads())
            return _original(self, *a, **k)

        monkeypatch.setattr(cls, name, spy)
    t_out = tmp_path / "teacher"
    assert train_main(_args("teacher", t_out, "--iterations", "2")) == 0
    teacher = str(t_out / "checkpoint_last.pt")
    assert train_main(_args("student", tmp_path / "student", "--iterations", "2", "--teacher", teacher)) == 0
    assert seen["update"] == [len(usable_cpus())] * 4
    assert set(seen["act"]) == {1}
    assert torch.get_num_threads() == 1


@pytest.mark.usefixtures("fake_world")
def test_finetune_starts_from_the_student_and_exports(tmp_path: Path) -> None:
    from policies.rl.export import SkillModule, export_skill, student_from_checkpoint

    t_out, s_out, f_out = tmp_path / "teacher", tmp_path / "student", tmp_path / "finetune"
    train_main(_args("teacher", t_out, "--iterations", "2"))
    train_main(_args("student", s_out, "--iterations", "2", "--teacher", str(t_out / "checkpoint_last.pt")))
    student_ckpt = s_out / "checkpoint_last.pt"
    with pytest.raises(CheckpointError, match="needs --student"):
        train_main(_args("finetune", f_out, "--iterations", "1"))
    with pytest.raises(CheckpointError, match="'teacher' checkpoint, expected 'student'"):
        train_main(_args("finetune", f_out, "--iterations", "1", "--student", str(t_out / "checkpoint_last.pt")))

    assert train_main(_args("finetune", f_out, "--iterations", "2", "--student", str(student_ckpt))) == 0
    resume = ["--resume", str(f_out / "checkpoint_last.pt")]
    assert train_main(_args("finetune", f_out, "--iterations", "4", "--student", str(student_ckpt), *resume)) == 0
    log = _log(f_out)
    assert [r["iteration"] for r in log] == [1, 2, 3, 4]
    assert json.loads((f_out / "config.json").read_text())["ppo"]["clamp_mean"]  # without --clamp-action-mean
    assert all(np.isfinite(r[k]) for r in log for k in ("loss_policy", "loss_value", "kl", "reward_per_step"))
    assert all(r["action_std"] <= 0.3 + 1e-6 for r in log)  # the fine-tuning std starts at 0.3 and cannot grow

    before = torch.load(str(student_ckpt), weights_only=False)
    after = torch.load(str(f_out / "checkpoint_last.pt"), weights_only=False)
    assert after["stage"] == "finetune"
    moved = [k for k, v in after["algo"]["student"].items() if not torch.equal(v, before["algo"]["student"][k])]
    assert any(k.startswith("actor.") for k in moved) and any(k.startswith("encoder.") for k in moved)
    assert not any("norm" in k for k in moved)  # normalisers frozen: the actor was fitted to them

    pt = export_skill(f_out / "checkpoint_last.pt", tmp_path / "skill")
    exported = torch.jit.load(str(pt))
    gen = torch.Generator().manual_seed(1)
    obs, hist = torch.randn(3, 72, generator=gen), torch.randn(3, 30, 24, generator=gen)
    expected = SkillModule(student_from_checkpoint(after))(obs, hist)
    torch.testing.assert_close(exported(obs, hist), expected)


@pytest.mark.usefixtures("fake_world")
def test_teacher_learns_to_turn_the_synthetic_object(tmp_path: Path) -> None:
    out = tmp_path / "t"
    args = [*_args("teacher", out, "--iterations", "30"), "--no-randomise"]
    args[args.index("--num-envs") + 1] = "16"
    train_main(args)
    log = _log(out)
    first = np.mean([r["r_rotation"] for r in log[:5]])
    last = np.mean([r["r_rotation"] for r in log[-5:]])
    assert last > first + 1.0, (first, last)


@pytest.mark.usefixtures("fake_world")
def test_checkpoint_layout_mismatch_is_refused_with_the_difference(tmp_path: Path) -> None:
    out = tmp_path / "t"
    train_main(_args("teacher", out, "--iterations", "1"))
    wider = _args("teacher", out, "--iterations", "2", "--resume", str(out / "checkpoint_last.pt"))
    wider[wider.index("--actor-hidden") + 1 : wider.index("--actor-hidden") + 3] = ["64", "64"]
    with pytest.raises(CheckpointError, match=r"actor_hidden: \[32, 32\] != expected \[64, 64\]"):
        train_main(wider)
    with pytest.raises(CheckpointError, match="does not exist"):
        train_main(_args("student", tmp_path / "s", "--iterations", "1", "--teacher", str(tmp_path / "missing.pt")))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        train_main(_args("student", tmp_path / "s", "--iterations", "1", "--teacher", str(tmp_path / "junk.pt")))
