"""Running a trained network on raw observations: normalisation, K-step history, one chunk out.

`TorchNormaliser` is the one implementation of the checkpoint's normalisation on
tensors (training normalises batches with it, deployment single observations).
`BCPolicy` keeps the history: `reset(q, tactile)` fills all K slots with the first
observation (what a window before an episode's first step holds in training),
`observe(q, tactile)` appends one control period's observation (every period, also
when no chunk is planned, so the history has the training's spacing), and
`predict()` returns an (H, 18) chunk of joint targets in radians, [hand 12, arm 6],
inside the recorded action range. `act` is observe + predict.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from policies.bc.checkpoint import LoadedPolicy
from policies.bc.layout import BCError
from policies.bc.normalise import Normaliser, RangeNorm


class _Affine:
    def __init__(self, norm: RangeNorm, device: torch.device | str) -> None:
        self.scale = torch.as_tensor(norm.scale, dtype=torch.float32, device=device)
        self.offset = torch.as_tensor(norm.offset, dtype=torch.float32, device=device)
        self.lo = torch.as_tensor(norm.lo, dtype=torch.float32, device=device)
        self.span = torch.as_tensor(norm.hi - norm.lo, dtype=torch.float32, device=device)
        self.clip = norm.clip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.addcmul(self.offset, x, self.scale)
        return y if self.clip is None else y.clamp_(-self.clip, self.clip)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.lo, y.add(1.0).mul_(0.5), self.span)


class TorchNormaliser:
    def __init__(self, norm: Normaliser, device: torch.device | str = "cpu") -> None:
        self.q = _Affine(norm.q, device)
        self.tactile = None if norm.tactile is None else _Affine(norm.tactile, device)
        self.action = _Affine(norm.action, device)

    def observations(self, q: torch.Tensor, tactile: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = None if (tactile is None or self.tactile is None) else self.tactile.forward(tactile)
        return self.q.forward(q), t

    def actions(self, a_rad: torch.Tensor) -> torch.Tensor:
        return self.action.forward(a_rad)

    def actions_rad(self, a_norm: torch.Tensor) -> torch.Tensor:
        return self.action.inverse(a_norm.clamp(-1.0, 1.0))


class BCPolicy:
    """A checkpoint's EMA network with its normalisation and an observation history (CPU, one thread ok)."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.loaded = loaded
        self.layout = loaded.layout
        self.net = loaded.net.eval()
        self.norm = TorchNormaliser(loaded.normaliser)
        k, lay = self.layout.history, self.layout
        self._q = torch.zeros(1, k, lay.joint_dim)
        self._t = torch.zeros(1, k, lay.tactile_dim) if lay.use_touch else None
        self._started = False
        self.run = _frozen(self.net, self._q, self._t)

    def reset(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> None:
        q, t = self._observation(q_rad, tactile_n)
        self._q[:] = q
        if self._t is not None and t is not None:
            self._t[:] = t
        self._started = True

    def _observation(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = torch.from_numpy(np.array(q_rad, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != self.layout.joint_dim or not torch.isfinite(q).all():
            raise BCError(f"observation q must be {self.layout.joint_dim} finite values, got {tuple(q.shape)}")
        t = None
        if self._t is not None:
            if tactile_n is None:
                raise BCError("this policy uses touch: pass the tactile frame")
            t = torch.from_numpy(np.array(tactile_n, dtype=np.float32).reshape(1, -1))
            if t.shape[1] != self.layout.tactile_dim or not torch.isfinite(t).all():
                raise BCError(f"tactile frame must be {self.layout.tactile_shape} finite values")
        return self.norm.observations(q, t)

    def observe(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> None:
        """Append one period's observation (the first one fills the whole history)."""
        if not self._started:
            self.reset(q_rad, tactile_n)
            return
        q, t = self._observation(q_rad, tactile_n)
        self._q = torch.cat([self._q[:, 1:], q[:, None]], dim=1)
        if self._t is not None and t is not None:
            self._t = torch.cat([self._t[:, 1:], t[:, None]], dim=1)

    @torch.inference_mode()
    def predict(self) -> np.ndarray:
        """The (H, 18) chunk in radians for the current history; its first step is the newest observation's."""
        if not self._started:
            raise BCError("predict() before any observation: call observe(q, tactile) first")
        return self.norm.actions_rad(self._forward()).double().numpy()

    def act(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> np.ndarray:
        self.observe(q_rad, tactile_n)
        return self.predict()

    def forward_only(self) -> np.ndarray:
        """The bare network on the current (already normalised) history: the benchmark's baseline."""
        with torch.inference_mode():
            return self._forward().numpy()

    def _forward(self) -> torch.Tensor:
        return (self.run(self._q) if self._t is None else self.run(self._q, self._t))[0]


def _frozen(net: torch.nn.Module, q: torch.Tensor, t: torch.Tensor | None) -> Any:
    """The network traced and frozen for batch-1 inference: one graph, no Python per layer.

    At batch 1 the step is dominated by per-operator overhead (about 1800 ATen calls per
    step for the default preset); freezing removes the module dispatch and folds constants.
    Same outputs as the eager network (tested); falls back to it if tracing is refused.
    """
    args = (q,) if t is None else (q, t)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.13 marks TorchScript deprecated (the SDK's skills use it too); the tracer's note is
            # about GroupNorm's shape check, constant here: the deployed input shape is fixed (1, K, D).
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, args)))
    except (RuntimeError, torch.jit.Error):
        return net
