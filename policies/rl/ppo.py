"""PPO (teacher; student fine-tuning): GAE, clipped surrogate, clipped value loss, adaptive-KL learning rate."""

from __future__ import annotations

import math

import torch
from torch import nn

from policies.rl.config import PPOConfig
from policies.rl.models import ActorCritic, StudentActorCritic


def straight_through_clamp(mu: torch.Tensor) -> torch.Tensor:
    """`mu` clamped to the action range [-1, 1] the environment applies, with the gradient of the identity:
    PPO can still pull a saturated mean back inside."""
    return mu + (mu.clamp(-1.0, 1.0) - mu).detach()


class Rollout:
    """Fixed-horizon storage of one PPO iteration (time-major)."""

    def __init__(
        self,
        horizon: int,
        n: int,
        obs_dim: int,
        priv_dim: int,
        act_dim: int,
        device: torch.device,
        hist_shape: tuple[int, int] | None = None,
    ) -> None:
        def z(*shape: int) -> torch.Tensor:
            return torch.zeros(horizon, n, *shape, device=device)

        self.obs, self.priv, self.actions = z(obs_dim), z(priv_dim), z(act_dim)
        self.hist = z(*hist_shape) if hist_shape is not None else None  # the student actor's input
        self.mu, self.sigma = z(act_dim), z(act_dim)
        self.logp, self.values, self.rewards, self.dones = z(), z(), z(), z()
        self.returns, self.adv = z(), z()
        self.t, self.horizon = 0, horizon

    def add(self, **items: torch.Tensor) -> None:
        """One step's tensors; a field this rollout does not store (the teacher's history) is skipped."""
        for k, v in items.items():
            store = getattr(self, k)
            if store is not None:
                store[self.t] = v
        self.t += 1

    def compute_returns(self, last_value: torch.Tensor, gamma: float, lam: float) -> None:
        gae = torch.zeros_like(last_value)
        for t in reversed(range(self.horizon)):
            next_v = last_value if t == self.horizon - 1 else self.values[t + 1]
            live = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_v * live - self.values[t]
            gae = delta + gamma * lam * live * gae
            self.returns[t] = gae + self.values[t]
        self.adv = self.returns - self.values
        self.adv = (self.adv - self.adv.mean()) / (self.adv.std() + 1e-8)
        self.t = 0

    def batches(self, mini_batches: int, gen: torch.Generator):
        total = self.horizon * self.obs.shape[1]
        size = max(1, total // mini_batches)
        perm = torch.randperm(total, generator=gen).to(self.obs.device)
        keys = ["obs", "priv", "actions", "mu", "sigma", "logp", "values", "returns", "adv"]
        flat = {k: getattr(self, k).reshape(total, -1).squeeze(-1) for k in keys}
        if self.hist is not None:
            flat["hist"] = self.hist.reshape(total, *self.hist.shape[2:])
        for i in range(0, total - size + 1, size):
            idx = perm[i : i + size]
            yield {k: v[idx] for k, v in flat.items()}


class PPO:
    def __init__(self, model: ActorCritic | StudentActorCritic, cfg: PPOConfig, seed: int = 0) -> None:
        self.model, self.cfg = model, cfg
        self.lr = cfg.lr
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)
        self._cap_std()

    @torch.no_grad()
    def act(self, obs: torch.Tensor, priv: torch.Tensor, hist: torch.Tensor | None = None):
        mu, log_std, value = self._policy(obs, priv, hist)
        sigma = log_std.exp()
        action = mu + sigma * torch.randn(mu.shape, generator=self.gen).to(mu.device)
        logp = torch.distributions.Normal(mu, sigma).log_prob(action).sum(-1)
        return action, mu, sigma, logp, value

    def update(self, roll: Rollout) -> dict[str, float]:
        c = self.cfg
        stats = {"loss_policy": 0.0, "loss_value": 0.0, "kl": 0.0, "loss_bounds": 0.0}
        n = 0
        for _ in range(c.epochs):
            for b in roll.batches(c.mini_batches, self.gen):
                mu, log_std, value = self._policy(b["obs"], b["priv"], b.get("hist"))
                sigma = log_std.exp()
                dist = torch.distributions.Normal(mu, sigma)
                logp = dist.log_prob(b["actions"]).sum(-1)
                with torch.no_grad():  # analytic KL(old || new) for the adaptive learning rate
                    kl = (
                        (torch.log(sigma / b["sigma"]) + (b["sigma"] ** 2 + (b["mu"] - mu) ** 2) / (2 * sigma**2) - 0.5)
                        .sum(-1)
                        .mean()
                    )
                    self._adapt_lr(float(kl))
                ratio = torch.exp(logp - b["logp"])
                surr = torch.max(-b["adv"] * ratio, -b["adv"] * ratio.clamp(1 - c.clip, 1 + c.clip)).mean()
                if c.value_clip:
                    v_clip = b["values"] + (value - b["values"]).clamp(-c.clip, c.clip)
                    v_loss = torch.max((value - b["returns"]) ** 2, (v_clip - b["returns"]) ** 2).mean()
                else:
                    v_loss = ((value - b["returns"]) ** 2).mean()
                # zero when the mean is clamped (clamp_mean): the raw mean is then free, nothing past it is explored
                bounds = ((mu - 1.1).clamp(min=0) ** 2 + (mu + 1.1).clamp(max=0) ** 2).sum(-1).mean()
                entropy = dist.entropy().sum(-1).mean()
                loss = surr + c.critic_coef * 0.5 * v_loss - c.entropy_coef * entropy + c.bounds_coef * bounds
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), c.max_grad_norm)
                self.opt.step()
                self._cap_std()
                stats["loss_policy"] += surr.item()
                stats["loss_value"] += v_loss.item()
                stats["kl"] += float(kl)
                stats["loss_bounds"] += bounds.item()
                n += 1
        out = {k: v / max(n, 1) for k, v in stats.items()}
        out["lr"] = self.lr
        out["action_std"] = float(self.model.log_std.detach().exp().mean())
        return out

    def _policy(self, obs: torch.Tensor, priv: torch.Tensor, hist: torch.Tensor | None):
        """(Gaussian mean, log std, value)."""
        mu, log_std, value, _ = self.model(obs, priv, hist)
        return (straight_through_clamp(mu) if self.cfg.clamp_mean else mu), log_std, value

    @torch.no_grad()
    def _cap_std(self) -> None:
        if self.cfg.max_action_std > 0:
            self.model.log_std.clamp_(max=math.log(self.cfg.max_action_std))

    def _adapt_lr(self, kl: float) -> None:
        if kl > 2.0 * self.cfg.kl_target:
            self.lr = max(1e-6, self.lr / 1.5)
        elif 0.0 < kl < 0.5 * self.cfg.kl_target:
            self.lr = min(1e-2, self.lr * 1.5)
        for g in self.opt.param_groups:
            g["lr"] = self.lr

    def state_dict(self) -> dict[str, object]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "lr": self.lr}

    def load_state_dict(self, d: dict[str, object]) -> None:
        self.model.load_state_dict(d["model"])  # type: ignore[arg-type]
        self.opt.load_state_dict(d["opt"])  # type: ignore[arg-type]
        self.lr = float(d["lr"])  # type: ignore[arg-type]
        self._cap_std()
