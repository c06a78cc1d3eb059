"""The BC algorithm: loss, AdamW, cosine schedule with warm-up, gradient clipping, EMA.

It owns the optimiser, the schedule and the EMA network and returns statistics;
the runner is a short loop around `update`. The EMA network is a separate copy that
only ever reads the live weights (the authors' `ema = model` aliasing, which copied
EMA weights back into the trained model at every evaluation, cannot happen here).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from policies.bc.policy import TorchNormaliser


@dataclass
class OptimConfig:
    lr: float = 5e-4  # the authors' train.sh
    weight_decay: float = 0.01
    warmup_steps: int = 500
    total_steps: int = 10_000  # the cosine reaches 0 here (the runner sets it from epochs x batches)
    grad_clip: float = 1.0
    ema_power: float = 0.75  # decay = 1 - (1 + step)^-power, capped (the diffusers schedule the authors used)
    ema_max_decay: float = 0.9999


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up from ~0 to 1 over warmup_steps, then cosine to 0 at total_steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def ema_decay(step: int, power: float, max_decay: float) -> float:
    return min(max_decay, max(0.0, 1.0 - (1.0 + step) ** -power))


class EMA:
    """Exponential moving average of a network's parameters, in its own module."""

    def __init__(self, model: nn.Module, power: float, max_decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.power, self.max_decay, self.updates = power, max_decay, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        decay = ema_decay(self.updates, self.power, self.max_decay)
        for e, p in zip(self.module.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - decay)
        for e, b in zip(self.module.buffers(), model.buffers(), strict=True):
            e.copy_(b)
        self.updates += 1
        return decay


def chunk_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the chunk (the paper sums; the mean only rescales the step size)."""
    return torch.mean((pred - target) ** 2)


class BehaviourCloning:
    """`update(batch)` -> stats; a non-finite loss or gradient skips the step (counted, weights untouched)."""

    def __init__(self, model: nn.Module, raw_model: nn.Module, norm: TorchNormaliser, cfg: OptimConfig) -> None:
        self.model, self.raw, self.norm, self.cfg = model, raw_model, norm, cfg  # model may be DDP(raw_model)
        self.optimizer = torch.optim.AdamW(raw_model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg.warmup_steps, cfg.total_steps)
        )
        self.ema = EMA(raw_model, cfg.ema_power, cfg.ema_max_decay)
        self.step = 0
        self.skipped = 0

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        q, t = self.norm.observations(batch["q"], batch.get("tactile"))
        return q, t, self.norm.actions(batch["action"])

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        q, t, target = self._inputs(batch)
        loss = chunk_loss(self.model(q, t), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP the gradients are averaged here: every rank sees the same norm
        grad_norm = float(nn.utils.clip_grad_norm_(self.raw.parameters(), self.cfg.grad_clip))
        lr = self.optimizer.param_groups[0]["lr"]
        if not (math.isfinite(grad_norm) and math.isfinite(float(loss.detach()))):
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            return {"loss": float(loss.detach()), "grad_norm": grad_norm, "lr": lr, "skipped": 1.0}
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.raw)
        self.step += 1
        return {"loss": float(loss.detach()), "grad_norm": grad_norm, "lr": lr, "skipped": 0.0}

    @torch.no_grad()
    def evaluate(self, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
        """EMA network on a batch: (normalised MSE, squared error in rad^2 summed) without touching live weights."""
        q, t, target = self._inputs(batch)
        pred = self.ema.module(q, t)
        err_rad = self.norm.actions_rad(pred) - batch["action"]
        return float(chunk_loss(pred, target)), float((err_rad**2).mean())

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema_updates": self.ema.updates,
            "step": self.step,
            "skipped": self.skipped,
        }

    def load_state_dict(self, d: dict[str, Any], ema_weights: dict[str, torch.Tensor]) -> None:
        self.optimizer.load_state_dict(d["optimizer"])
        self.scheduler.load_state_dict(d["scheduler"])
        self.ema.module.load_state_dict(ema_weights)
        self.ema.updates, self.step, self.skipped = int(d["ema_updates"]), int(d["step"]), int(d["skipped"])
