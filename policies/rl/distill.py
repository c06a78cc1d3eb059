"""Student distillation (DAgger-style): the student drives the rollouts, the teacher labels them.

Loss = ||a_student - a_teacher||^2 + ||z_student - z_teacher||^2 (method.md),
on the student's own state distribution, so it learns to recover from its own
mistakes. As in DAgger, the labelled data of recent iterations is aggregated
(`dataset_iterations`): on a CPU, environment steps are the scarce resource.

The environment clamps actions to [-1, 1], so where the teacher's action is
saturated only the student's side of the limit matters: a student at 3 where
the teacher says 1 acts identically and is not penalised.

The teacher is either the project's privileged teacher (its actor is copied
and frozen; the student learns the latent) or a released student
(policies.rl.released: the student's actor is trained too, action loss only).
"""

from __future__ import annotations

import copy
from collections import deque

import torch

from policies.rl.config import StudentConfig
from policies.rl.models import ActorCritic, HistoryEncoder, StudentPolicy
from policies.rl.released import ReleasedTeacher
from policies.rl.task import Observations


class Distillation:
    def __init__(
        self,
        teacher: ActorCritic,
        cfg: StudentConfig,
        hist_len: int,
        frame_dim: int,
        seed: int = 0,
        device: torch.device | str = "cpu",
        released: ReleasedTeacher | None = None,
    ) -> None:
        """With `released`, `teacher` is only the shell whose actor the student trains from scratch."""
        self.teacher = teacher.eval()
        self.released = released
        latent_dim = teacher.priv_enc[0][-1].out_features
        encoder = HistoryEncoder(frame_dim, hist_len, latent_dim).to(device)
        if released is None:
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            self.student = StudentPolicy(copy.deepcopy(teacher), encoder)
        else:
            self.student = StudentPolicy(teacher, encoder)
        self.student.obs_norm.requires_grad_(False)
        self.cfg = cfg
        self.opt = torch.optim.Adam([p for p in self.student.parameters() if p.requires_grad], lr=cfg.lr)
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)
        self._buf = []  # type: List[Dict[str, torch.Tensor]]
        self._dataset = deque(maxlen=max(1, cfg.dataset_iterations))  # type: Deque[Dict[str, torch.Tensor]]

    @torch.no_grad()
    def act(self, o: Observations) -> torch.Tensor:
        """The student's action; the step's inputs and the teacher's labels are stored for the update."""
        self.student.encoder.hist_norm.update(o.hist)
        if self.released is not None:
            self.student.obs_norm.update(o.obs)  # a fresh actor: its input statistics are learnt here
            a_t = self.released.label(o.hist)
            z_t = torch.zeros(o.obs.shape[0], 0, device=o.obs.device)  # no latent to match
        else:
            z_t = self.teacher.latent(o.priv)
            a_t = self.teacher.act_from_latent(o.obs, z_t).clamp(-1.0, 1.0)  # the env clamps: only this matters
        a_s, _ = self.student(o.obs, o.hist)
        self._buf.append({"obs": o.obs, "hist": o.hist, "a_t": a_t, "z_t": z_t})
        return self._mix(a_s, a_t)

    def _mix(self, a_s: torch.Tensor, a_t: torch.Tensor) -> torch.Tensor:
        if self.cfg.teacher_action_prob > 0:
            use_t = torch.rand(a_s.shape[0], generator=self.gen) < self.cfg.teacher_action_prob
            a_s = torch.where(use_t.unsqueeze(-1).to(a_s.device), a_t, a_s)
        return a_s

    def update(self) -> dict[str, float]:
        """`epochs` x `mini_batches` steps on mini-batches of the newest rollout's size, drawn from the aggregate."""
        newest = {k: torch.cat([b[k] for b in self._buf]) for k in self._buf[0]}
        self._buf = []
        self._dataset.append(newest)
        data = {k: torch.cat([d[k] for d in self._dataset]) for k in newest}
        total = data["obs"].shape[0]
        size = max(1, newest["obs"].shape[0] // self.cfg.mini_batches)
        stats = {"loss_action": 0.0, "loss_latent": 0.0}
        n = 0
        for _ in range(self.cfg.epochs * self.cfg.mini_batches):
            idx = torch.randint(total, (size,), generator=self.gen).to(data["obs"].device)
            a_s, z_s = self.student(data["obs"][idx], data["hist"][idx])
            la = action_loss(a_s, data["a_t"][idx])
            z_t = data["z_t"][idx]
            lz = ((z_s - z_t) ** 2).sum(-1).mean() if z_t.shape[-1] else torch.zeros((), device=z_s.device)
            self.opt.zero_grad()
            (la + lz).backward()
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
            self.opt.step()
            stats["loss_action"] += la.item()
            stats["loss_latent"] += lz.item()
            n += 1
        return {k: v / max(n, 1) for k, v in stats.items()}

    def state_dict(self) -> dict[str, object]:
        return {"student": self.student.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, d: dict[str, object]) -> None:
        self.student.load_state_dict(d["student"])  # type: ignore[arg-type]
        self.opt.load_state_dict(d["opt"])  # type: ignore[arg-type]


def action_loss(a_student: torch.Tensor, a_teacher: torch.Tensor) -> torch.Tensor:
    """Squared error summed over joints, not counting overshoot past a limit the clamped teacher sits on."""
    a = torch.where(a_teacher >= 1.0, a_student.clamp(max=1.0), a_student)
    a = torch.where(a_teacher <= -1.0, a.clamp(min=-1.0), a)
    return ((a - a_teacher) ** 2).sum(-1).mean()
