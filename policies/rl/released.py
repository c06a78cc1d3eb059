"""The authors' released student as a batched DAgger teacher for the student stage.

Training a teacher by PPO from scratch takes far more environment steps than a
CPU gives in hours, while the released students already turn the nut and the
handle in this project's simplified left-hand world, but only when they read
their observation one frame behind their history, as in their training
(policies.rl.official: 1.48 rad/s on the handle with frames t-3..t-1, 0.20 with
the deploy frames t-2..t). Distilling one into the project's own student (which
reads t-2..t, like every skill the runtime deploys) keeps the skill runtime's
deploy contract and yields a skill that works in this world: the label of a
state is the released policy's action computed from the same history with the
training lag. The released student has no privileged latent to match, so only
the action loss applies.

Batched torch, canonical (SDK) joint order in and out; Python 3.8 compatible.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from policies.rl.checkpoint import CheckpointError
from policies.rl.sdk import layout

TRAINING_OBS_LAG = 1  # released students were trained on frames t-3..t-1 of their history
STAT_EPS = 1e-5


def is_released(path: Path) -> bool:
    """A released checkpoint is recognised by its file name (external/dexscrew_official/README.md)."""
    return Path(path).name in layout.OFFICIAL_FILES.values()


class ReleasedTeacher:
    """label(hist (N, 30, 24), canonical order) -> action (N, 12) in [-1, 1], canonical order, masked."""

    def __init__(self, path: Path, task: str, device: torch.device | str = "cpu") -> None:
        path = Path(path)
        expected = layout.OFFICIAL_FILES[layout.check_task(task)]
        if path.name != expected:
            raise CheckpointError(f"{path}: the released {task} student is {expected}")
        if not path.is_file():
            raise CheckpointError(f"released checkpoint {path} does not exist")
        self.path, self.task = path, task
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        try:
            module = torch.jit.load(str(path), map_location=device).eval()
            stats = [module.running_mean, module.running_var, module.sa_mean, module.sa_var]
        except (RuntimeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{path}: not a released DexScrew student ({exc})") from None
        self.module = module
        self.obs_mean, self.obs_var, self.hist_mean, self.hist_var = (s.detach().float().to(device) for s in stats)
        if self.obs_mean.shape != (layout.OFFICIAL_OBS_PAD,) or self.hist_mean.shape != (layout.HIST_LEN, 24):
            raise CheckpointError(f"{path}: normalisation stats of unexpected shapes")
        pol = list(layout.POLICY_FROM_SDK)
        self._frame_to_policy = torch.tensor(pol + [12 + i for i in pol], device=device)
        self._action_to_sdk = torch.tensor(list(layout.SDK_FROM_POLICY), device=device)
        self.mask = torch.as_tensor(layout.mask_sdk(task), device=device)
        self.device = device

    def identity(self) -> dict[str, str]:
        return {"kind": "released", "file": self.path.name, "sha256": self.sha256}

    @torch.no_grad()
    def label(self, hist: torch.Tensor) -> torch.Tensor:
        if hist.shape[1:] != (layout.HIST_LEN, layout.FRAME_DIM):
            raise ValueError(f"history of shape {tuple(hist.shape)}, expected (N, {layout.HIST_LEN}, 24)")
        n, lag = hist.shape[0], TRAINING_OBS_LAG
        h = hist.to(self.device).float()[..., self._frame_to_policy]
        frames = h[:, -layout.OBS_FRAMES - lag : h.shape[1] - lag].reshape(n, layout.OBS_DIM)
        obs = torch.zeros(n, layout.OFFICIAL_OBS_PAD, device=self.device)
        obs[:, : layout.OBS_DIM] = frames.clamp(-5.0, 5.0)
        obs = ((obs - self.obs_mean) / torch.sqrt(self.obs_var + STAT_EPS)).clamp(-5.0, 5.0)
        hist_n = ((h - self.hist_mean) / torch.sqrt(self.hist_var + STAT_EPS)).clamp(-5.0, 5.0)
        inputs = {"obs": obs, "proprio_hist": hist_n, "point_cloud_info": torch.zeros(n, 100, 3, device=self.device)}
        mu = self.module(inputs)[0].float().clamp(-1.0, 1.0)
        return mu[:, self._action_to_sdk].masked_fill(self.mask, 0.0)
