"""Running a trained network on raw observations: normalisation, K-step history, one chunk out.

`TorchNormaliser` is the one implementation of the checkpoint's normalisation on
tensors (training normalises batches with it, deployment single observations).
`BCPolicy` keeps the history: `reset(q, tactile)` fills all K slots with the first
observation (what a window before an episode's first step holds in training),
`observe(q, tactile)` appends one control period's observation (every period, also
when no chunk is planned, so the history has the training's spacing), and
`predict()` returns an (H, 18) chunk of joint targets in radians, [hand 12, arm 6]:
the network's offsets, inside their recorded range, added to the newest observed joint
positions (relative layouts), or the targets themselves inside the recorded range.
`act` is observe + predict. The network runs through ONNX Runtime when it is installed
and agrees with torch (`onnx_forward.py`), else on torch through `StepNet`; `backend`
says which.
"""

from __future__ import annotations

import numpy as np
import torch

from policies.bc.checkpoint import LoadedPolicy
from policies.bc.layout import BCError
from policies.bc.normalise import Normaliser, RangeNorm
from policies.bc.onnx_forward import build_onnx
from policies.bc.stepnet import StepNet


class _Affine:
    def __init__(self, norm: RangeNorm, device: torch.device | str) -> None:
        self.scale = torch.as_tensor(norm.scale, dtype=torch.float32, device=device)
        self.offset = torch.as_tensor(norm.offset, dtype=torch.float32, device=device)
        self.lo = torch.as_tensor(norm.lo, dtype=torch.float32, device=device)
        self.span = torch.as_tensor(norm.hi - norm.lo, dtype=torch.float32, device=device)
        self.clip = norm.clip

    def forward(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        y = (
            torch.addcmul(self.offset, x, self.scale)
            if out is None
            else torch.addcmul(self.offset, x, self.scale, out=out)
        )
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
    """A checkpoint's EMA network with its normalisation and an observation history (CPU, one thread ok).

    The normalised observations are kept as a ring of the last K steps, written once per
    period: the network's input. On torch their per-modality encodings are kept as well,
    inside `StepNet`, so a step encodes one observation, not K, and then decodes
    (`stepnet.py`); ONNX Runtime runs the whole network on the ring's K steps.
    `backend`: "auto" (ONNX Runtime when usable, else torch), "onnx" or "torch".
    """

    def __init__(self, loaded: LoadedPolicy, backend: str = "auto") -> None:
        self.loaded = loaded
        self.layout = loaded.layout
        self.net = loaded.net.eval()
        self.norm = TorchNormaliser(loaded.normaliser)
        k, lay = self.layout.history, self.layout
        self.onnx, self.backend_choice = build_onnx(self.net, backend)
        self.backend: str = self.backend_choice["backend"]
        self.step_net: StepNet | None = None
        if self.onnx is None:
            with torch.no_grad():
                self.step_net = StepNet(self.net)
        self._slot = k - 1  # the newest observation's ring row
        # step t's normalised observation at rows t % K and t % K + K: rows i+1..i+K are the history
        self._q_ring = torch.zeros(2 * k, lay.joint_dim)
        self._t_ring = torch.zeros(2 * k, lay.tactile_dim) if lay.use_touch else None
        self._rows = [  # per slot: its row and the row's twin K later, in each ring
            (self._q_ring[i : i + 1], self._q_ring[i + k : i + k + 1], *self._t_rows(i, k)) for i in range(k)
        ]
        self._started = False
        self._q_newest = np.zeros(lay.joint_dim)  # raw: relative chunks are offsets from it

    def _t_rows(self, i: int, k: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        return (None, None) if self._t_ring is None else (self._t_ring[i : i + 1], self._t_ring[i + k : i + k + 1])

    @property
    def history(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The normalised history (K, 18), (K, 1800) or None, oldest first (views, valid until the next step)."""
        k, i = self.layout.history, self._slot
        t = None if self._t_ring is None else self._t_ring[i + 1 : i + 1 + k]
        return self._q_ring[i + 1 : i + 1 + k], t

    @torch.inference_mode()
    def reset(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> None:
        """Start an episode: all K history steps are this observation."""
        q, t = self._normalised(q_rad, tactile_n, 0)
        self._q_ring.copy_(q.clone().expand_as(self._q_ring))  # (a copy: source and target share rows)
        if self._t_ring is not None and t is not None:
            self._t_ring.copy_(t.clone().expand_as(self._t_ring))
        self._slot = 0
        if self.step_net is not None:
            self.step_net.fill(q, t)
        self._started = True

    def _normalised(
        self, q_rad: np.ndarray, tactile_n: np.ndarray | None, row: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Validate one raw observation, then write it normalised into ring `row` ((1, D) views).

        Both parts are checked before anything is written: a refused observation leaves the history as it was.
        """
        q = np.array(q_rad, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.layout.joint_dim or not np.isfinite(q).all():
            raise BCError(f"observation q must be {self.layout.joint_dim} finite values, got {tuple(q.shape)}")
        t = None
        if self._t_ring is not None:
            if tactile_n is None:
                raise BCError("this policy uses touch: pass the tactile frame")
            t = np.array(tactile_n, dtype=np.float32).reshape(1, -1)
            if t.shape[1] != self.layout.tactile_dim or not np.isfinite(t).all():
                raise BCError(f"tactile frame must be {self.layout.tactile_shape} finite values")
        q_row, _, t_row, _ = self._rows[row]
        self._q_newest = q[0].astype(np.float64)
        qn = self.norm.q.forward(torch.from_numpy(q), out=q_row)
        if t is None or self.norm.tactile is None:
            return qn, None
        return qn, self.norm.tactile.forward(torch.from_numpy(t), out=t_row)

    @torch.inference_mode()
    def observe(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> None:
        """Append one period's observation (the first one fills the whole history)."""
        if not self._started:
            self.reset(q_rad, tactile_n)
            return
        i = (self._slot + 1) % self.layout.history
        q, t = self._normalised(q_rad, tactile_n, i)
        _, q_twin, _, t_twin = self._rows[i]
        q_twin.copy_(q)
        if t_twin is not None and t is not None:
            t_twin.copy_(t)
        self._slot = i
        if self.step_net is not None:
            self.step_net.push(q, t)  # encodes into its own ring

    @torch.inference_mode()
    def predict(self) -> np.ndarray:
        """The (H, 18) chunk in radians for the current history; its first step is the newest observation's."""
        if not self._started:
            raise BCError("predict() before any observation: call observe(q, tactile) first")
        chunk = self.step_net.decode() if self.step_net is not None else torch.from_numpy(self._onnx_forward())
        actions = self.norm.actions_rad(chunk).double().numpy()
        return actions + self._q_newest if self.layout.relative_actions else actions

    def act(self, q_rad: np.ndarray, tactile_n: np.ndarray | None) -> np.ndarray:
        self.observe(q_rad, tactile_n)
        return self.predict()

    def forward_only(self) -> np.ndarray:
        """The bare network on the current normalised history (all K steps encoded): the benchmark's baseline."""
        if self.step_net is None:
            return self._onnx_forward()
        q, t = self.history
        return self.step_net.forward(q, t).numpy()

    def _onnx_forward(self) -> np.ndarray:
        assert self.onnx is not None
        q, t = self.history
        return self.onnx(q.numpy(), None if t is None else t.numpy())
