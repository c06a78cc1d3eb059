"""Networks: running normaliser, teacher actor-critic with privileged encoder, student history encoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], act_last: bool = False) -> nn.Sequential:
    layers = []  # type: list[nn.Module]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or act_last:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class RunningNorm(nn.Module):
    """Running mean/variance over the leading axes (Chan's parallel update), clipped output."""

    def __init__(self, shape: Sequence[int], clip: float = 5.0, eps: float = 1e-5) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(*shape))
        self.register_buffer("var", torch.ones(*shape))
        self.register_buffer("count", torch.tensor(1e-4))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, *self.mean.shape)
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        delta, total = b_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + b_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)


class ActorCritic(nn.Module):
    """Teacher: obs (72) + latent of the privileged vector -> Gaussian action, value.

    The privileged encoder ends in tanh (method.md); the student learns to
    predict that latent from proprioceptive history alone.
    """

    def __init__(
        self,
        obs_dim: int,
        priv_dim: int,
        act_dim: int,
        actor_hidden: Sequence[int] = (512, 256, 128),
        priv_hidden: Sequence[int] = (256, 128),
        latent_dim: int = 8,
        init_log_std: float = 0.0,
        obs_clip: float = 5.0,
    ) -> None:
        super().__init__()
        self.obs_norm = RunningNorm((obs_dim,), obs_clip)
        self.priv_norm = RunningNorm((priv_dim,), obs_clip)
        self.priv_enc = nn.Sequential(mlp([priv_dim, *priv_hidden, latent_dim]), nn.Tanh())
        self.actor = mlp([obs_dim + latent_dim, *actor_hidden, act_dim])
        self.critic = mlp([obs_dim + latent_dim, *actor_hidden, 1])
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        with torch.no_grad():  # small initial actions: the hand starts near its grasp
            self.actor[-1].weight.mul_(0.01)
            self.actor[-1].bias.zero_()

    def latent(self, priv: torch.Tensor) -> torch.Tensor:
        return self.priv_enc(self.priv_norm(priv))

    def act_from_latent(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.actor(torch.cat([self.obs_norm(obs), z], -1))

    def forward(self, obs: torch.Tensor, priv: torch.Tensor, hist: torch.Tensor | None = None):
        """(action mean, log std, value, latent); `hist` is unused (the fine-tuned student's actor reads it)."""
        z = self.latent(priv)
        x = torch.cat([self.obs_norm(obs), z], -1)
        return self.actor(x), self.log_std.expand(obs.shape[0], -1), self.critic(x).squeeze(-1), z

    def update_norms(self, obs: torch.Tensor, priv: torch.Tensor) -> None:
        self.obs_norm.update(obs)
        self.priv_norm.update(priv)


class HistoryEncoder(nn.Module):
    """Student: temporal convolution over (B, 30, 24) proprioception -> latent (tanh)."""

    def __init__(self, frame_dim: int = 24, hist_len: int = 30, latent_dim: int = 8, clip: float = 5.0) -> None:
        super().__init__()
        self.hist_norm = RunningNorm((frame_dim,), clip)
        self.embed = nn.Sequential(nn.Linear(frame_dim, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU())
        self.conv = nn.Sequential(
            nn.Conv1d(32, 32, kernel_size=9, stride=2),
            nn.ELU(),
            nn.Conv1d(32, 32, kernel_size=5, stride=1),
            nn.ELU(),
            nn.Conv1d(32, 32, kernel_size=5, stride=1),
            nn.ELU(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 32, hist_len)).numel()
        self.head = nn.Sequential(nn.Linear(flat, latent_dim), nn.Tanh())

    def forward(self, hist: torch.Tensor) -> torch.Tensor:
        x = self.embed(self.hist_norm(hist)).transpose(1, 2)  # (B, 32, T)
        return self.head(self.conv(x).flatten(1))


class StudentPolicy(nn.Module):
    """History encoder + a copy of the teacher's actor (frozen while distilling; `finetune` trains both)."""

    def __init__(self, teacher: ActorCritic, encoder: HistoryEncoder) -> None:
        super().__init__()
        self.obs_norm = teacher.obs_norm
        self.actor = teacher.actor
        self.encoder = encoder

    def forward(self, obs: torch.Tensor, hist: torch.Tensor):
        """(action mean, latent)."""
        z = self.encoder(hist)
        return self.actor(torch.cat([self.obs_norm(obs), z], -1)), z


class StudentActorCritic(nn.Module):
    """PPO fine-tuning of the deployable student (asymmetric actor-critic).

    The actor is the distilled student, acting from proprioceptive history
    alone, so RL improves exactly the policy a skill runs; the critic is the
    teacher's, which sees the privileged state. Distillation caps a student at
    what it can imitate; this lets it learn recoveries it can actually see.
    The normalisers stay frozen: the actor's weights were fitted to them.

    PPO centres its Gaussian on the action the skill deploys, the mean clamped
    to [-1, 1] (`PPOConfig.clamp_mean`, which the finetune stage always sets):
    a distilled student's raw mean is often far past a limit (bang-bang joints),
    where exploration and the KL would only measure moves that change nothing.
    """

    def __init__(self, student: StudentPolicy, teacher: ActorCritic, init_std: float) -> None:
        super().__init__()
        self.student = student
        self.teacher = teacher  # only its privileged encoder and critic are used
        act_dim = teacher.log_std.shape[0]
        self.log_std = nn.Parameter(torch.full((act_dim,), math.log(init_std)))

    def forward(self, obs: torch.Tensor, priv: torch.Tensor, hist: torch.Tensor | None = None):
        """(raw action mean, log std, value, student latent)."""
        if hist is None:
            raise ValueError("the student actor needs the proprioceptive history")
        mu, z = self.student(obs, hist)
        x = torch.cat([self.teacher.obs_norm(obs), self.teacher.latent(priv)], -1)
        return mu, self.log_std.expand(obs.shape[0], -1), self.teacher.critic(x).squeeze(-1), z

    def update_norms(self, obs: torch.Tensor, priv: torch.Tensor) -> None:
        """Frozen (see the class docstring)."""
