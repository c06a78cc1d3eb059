"""Training loops: teacher (PPO), student (distillation), student fine-tuning (PPO); logs, checkpoints, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from policies.rl import checkpoint
from policies.rl.config import TrainConfig
from policies.rl.distill import Distillation
from policies.rl.export import student_from_checkpoint
from policies.rl.models import ActorCritic, StudentActorCritic
from policies.rl.ppo import PPO, Rollout
from policies.rl.released import ReleasedTeacher, is_released
from policies.rl.sdk import joints, layout
from policies.rl.task import RevoluteTask


def run_layout(env: RevoluteTask, cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed, distilled or exported."""
    return {
        "task": cfg.task,
        "obs_dim": env.obs_dim,
        "priv_dim": env.priv_dim,
        "act_dim": env.act_dim,
        "hist_len": env.hist_len,
        "frame_dim": env.frame_dim,
        "joint_order": list(joints.HAND_JOINT_NAMES),
        "actor_hidden": list(cfg.model.actor_hidden),
        "latent_dim": cfg.model.latent_dim,
    }


def build_teacher(env: RevoluteTask, cfg: TrainConfig) -> ActorCritic:
    m = cfg.model
    return ActorCritic(
        env.obs_dim,
        env.priv_dim,
        env.act_dim,
        m.actor_hidden,
        m.priv_hidden,
        m.latent_dim,
        m.init_log_std,
        cfg.ppo.obs_clip,
    )


@contextlib.contextmanager
def _torch_threads(n: int):  # type: ignore[no-untyped-def]
    """Run the block with `n` torch threads (0: as they are)."""
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Interrupt:
    """First Ctrl-C: finish the iteration, save, stop. Second: stop now (the last checkpoint stays)."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None  # type: Any

    def __enter__(self) -> _Interrupt:
        self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self._old)


class Runner:
    """Trains one stage on a RevoluteTask; writes log.jsonl, config.json and checkpoints to out_dir."""

    def __init__(
        self,
        env: RevoluteTask,
        cfg: TrainConfig,
        out_dir: Path,
        teacher_path: Path | None = None,
        log: Callable[[str], None] = print,
        student_path: Path | None = None,
        update_threads: int = 0,
    ) -> None:
        """`update_threads` > 0: torch threads for the network updates. The CPU backend's workers own the
        cores while they simulate and sit idle during an update, which then runs on all of them
        (a fine-tuning iteration 3.0 -> 2.5 s on 2 cores)."""
        self.env, self.cfg, self.out = env, cfg, Path(out_dir)
        self.log = log
        self.update_threads = update_threads
        self.layout = run_layout(env, cfg)
        torch.manual_seed(cfg.seed)
        self.teacher = build_teacher(env, cfg).to(env.device)  # the learner lives where the backend's tensors do
        self.iteration, self.env_steps = 0, 0
        self.episodes = {
            "return": deque(maxlen=200),
            "rad_per_s": deque(maxlen=200),
            "length_s": deque(maxlen=200),
            "terminated": deque(maxlen=200),
            # which termination rule ended them (policies.rl.task.Termination.causes)
            "end_tip_far": deque(maxlen=200),
            "end_no_progress": deque(maxlen=200),
            "end_no_contact": deque(maxlen=200),
        }  # type: Dict[str, Deque[float]]
        self._ended = 0  # episodes ended in the current iteration
        self.distill = None  # type: Optional[Distillation]
        self.teacher_source = {}  # type: Dict[str, str]
        if cfg.stage == "teacher":
            self.ppo = PPO(self.teacher, cfg.ppo, cfg.seed)  # type: Optional[PPO]
        elif cfg.stage == "finetune":
            if student_path is None:
                raise checkpoint.CheckpointError("the finetune stage needs --student PATH (a student checkpoint)")
            data = checkpoint.load(student_path, "student", self.layout)
            self.teacher.load_state_dict(data["teacher"])
            student = student_from_checkpoint(data).to(env.device)
            cfg.ppo.clamp_mean = True  # explore around the action the skill deploys (StudentActorCritic's docstring)
            model = StudentActorCritic(student, self.teacher, cfg.ppo.max_action_std or cfg.finetune.init_std)
            self.ppo = PPO(model, cfg.ppo, cfg.seed)
        else:
            if teacher_path is None:
                raise checkpoint.CheckpointError("the student stage needs --teacher PATH (a teacher checkpoint)")
            self.ppo = None
            released = None
            if is_released(teacher_path):  # the authors' student labels; the actor here is trained anew
                released = ReleasedTeacher(teacher_path, cfg.task, env.device)
                self.teacher_source = released.identity()  # type: Dict[str, str]
            else:
                data = checkpoint.load(teacher_path, "teacher", self.layout)
                self.teacher.load_state_dict(data["algo"]["model"])
                self.teacher_source = {"kind": "teacher", "file": str(teacher_path)}
            self.distill = Distillation(
                self.teacher, cfg.student, env.hist_len, env.frame_dim, cfg.seed, env.device, released
            )
        self.out.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------- checkpoints
    def payload(self) -> dict[str, Any]:
        algo = self.ppo.state_dict() if self.ppo is not None else self.distill.state_dict()  # type: ignore[union-attr]
        if self.cfg.stage == "finetune":  # export reads the student where a distilled checkpoint keeps it
            algo["student"] = self.ppo.model.student.state_dict()  # type: ignore[union-attr]
        return {
            "stage": self.cfg.stage,
            "layout": self.layout,
            "config": self.cfg.to_dict(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "algo": algo,
            "teacher": self.teacher.state_dict(),
            "teacher_source": self.teacher_source,
            "initial_targets_rad": self.env.init_targets.tolist(),  # the skill starts where training did
            "rng": torch.get_rng_state(),
        }

    def save(self, tag: str = "last") -> Path:
        path = self.out / f"checkpoint_{tag}.pt"
        checkpoint.save(path, self.payload())
        return path

    def resume(self, path: Path) -> None:
        data = checkpoint.load(path, self.cfg.stage, self.layout)
        if self.ppo is not None:
            self.ppo.load_state_dict(data["algo"])
        else:
            self.distill.load_state_dict(data["algo"])  # type: ignore[union-attr]
        self.iteration, self.env_steps = int(data["iteration"]), int(data["env_steps"])
        torch.set_rng_state(data["rng"])
        self.log(f"resumed {path} at iteration {self.iteration} ({self.env_steps} env steps)")

    # ---------------------------------------------------------------- training
    def train(self, iterations: int) -> dict[str, float]:
        """Train until `iterations` in total (a resumed run continues its count)."""
        (self.out / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2))
        stats = {}  # type: Dict[str, float]
        end = iterations
        o = self.env.reset()
        with _Interrupt() as stop, open(str(self.out / "log.jsonl"), "a") as logf:
            while self.iteration < end and not stop.requested:
                t0 = time.monotonic()
                o, stats = self._ppo_iteration(o) if self.ppo is not None else self._student_iteration(o)
                self.iteration += 1
                dt = time.monotonic() - t0
                stats.update(self._episode_stats())
                stats.update(
                    iteration=self.iteration, env_steps=self.env_steps, steps_per_s=self._steps_per_iter() / dt
                )
                logf.write(json.dumps(stats) + "\n")
                logf.flush()
                self.log(self._progress_line(stats, end))
                if self.iteration % self.cfg.save_every == 0:
                    self.save("last")
                    self.save(f"{self.iteration:06d}")
            path = self.save("last")
        if stop.requested:
            self.log(f"interrupted: saved {path}; resume with --resume {path}")
        return stats

    def _steps_per_iter(self) -> int:
        h = self.cfg.ppo.horizon if self.ppo is not None else self.cfg.student.horizon
        return h * self.env.n

    def _record(self, info: dict[str, Any]) -> None:
        ep = info.get("episode")
        if ep:
            self._ended += len(ep["length_s"])
            for k, q in self.episodes.items():
                if k in ep:
                    q.extend(float(x) for x in ep[k])

    def _ppo_iteration(self, o):  # type: ignore[no-untyped-def]
        """One PPO iteration: the teacher's, or the student's fine-tuning (whose actor reads the history)."""
        ppo, c = self.ppo, self.cfg.ppo
        assert ppo is not None
        env = self.env
        hist_shape = (env.hist_len, env.frame_dim) if self.cfg.stage == "finetune" else None
        roll = Rollout(c.horizon, env.n, env.obs_dim, env.priv_dim, env.act_dim, env.device, hist_shape)
        rew_sum = 0.0
        term_sums = {}  # type: Dict[str, float]
        for _ in range(c.horizon):
            action, mu, sigma, logp, value = ppo.act(o.obs, o.priv, o.hist)  # the teacher ignores the history
            o2, reward, done, info = self.env.step(action)
            r = reward * c.reward_scale + c.gamma * value * info["time_outs"].float()
            roll.add(
                obs=o.obs,
                priv=o.priv,
                actions=action,
                mu=mu,
                sigma=sigma,
                logp=logp,
                values=value,
                rewards=r,
                dones=done.float(),
                hist=o.hist,
            )
            rew_sum += float(reward.mean())
            for k, v in info["terms"].items():
                term_sums["r_" + k] = term_sums.get("r_" + k, 0.0) + float(v.mean()) / c.horizon
            self._record(info)
            o = o2
        with torch.no_grad():
            last_value = ppo.model(o.obs, o.priv, o.hist)[2]
        roll.compute_returns(last_value, c.gamma, c.lam)
        with _torch_threads(self.update_threads):
            stats = ppo.update(roll)
        ppo.model.update_norms(roll.obs, roll.priv)
        self.env_steps += c.horizon * self.env.n
        stats["reward_per_step"] = rew_sum / c.horizon
        stats.update(term_sums)
        return o, stats

    def _student_iteration(self, o):  # type: ignore[no-untyped-def]
        d = self.distill
        assert d is not None
        rew_sum = 0.0
        for _ in range(self.cfg.student.horizon):
            o, reward, _, info = self.env.step(d.act(o))
            rew_sum += float(reward.mean())
            self._record(info)
        with _torch_threads(self.update_threads):
            stats = d.update()
        self.env_steps += self.cfg.student.horizon * self.env.n
        stats["reward_per_step"] = rew_sum / self.cfg.student.horizon
        return o, stats

    def _episode_stats(self) -> dict[str, float]:
        """Means over the last 200 ended episodes, and two figures that are not censored: early in a run
        only episodes that terminated early can have ended, so their mean length says little; the share of
        environments whose episode ended this iteration and the mean age of the running episodes do."""
        out = {}
        for k, q in self.episodes.items():
            if q:
                out["episode_" + k] = sum(q) / len(q)
        out["episodes_ended_share"] = self._ended / self.env.n
        out["episode_age_s"] = float(self.env.steps.float().mean()) / layout.CONTROL_HZ
        self._ended = 0
        return out

    def _progress_line(self, s: dict[str, float], end: int) -> str:
        keys = (
            "reward_per_step",
            "episode_rad_per_s",
            "episode_length_s",
            "episodes_ended_share",
            "episode_age_s",
            "loss_value",
            "loss_action",
            "loss_latent",
            "kl",
            "lr",
        )
        parts = [f"{k} {s[k]:.4g}" for k in keys if k in s]
        return "[{} {}/{}] {} steps, {:.0f} steps/s | {}".format(
            self.cfg.stage, self.iteration, end, self.env_steps, s.get("steps_per_s", 0.0), ", ".join(parts)
        )
