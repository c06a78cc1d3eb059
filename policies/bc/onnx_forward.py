"""The BC network through ONNX Runtime: the deployed step's default when the `deploy` extra is installed.

At batch 1 the torch step is bound by per-operator overhead (docs/bc.md, "The batch-1 step");
ONNX Runtime runs the same graph with fused kernels and little cost per node. The checkpoint
holds torch weights only, so the network is exported when a policy loads, with the training
model's unfold + GEMM convolutions computed as standard convolutions (same weights; the
unfold form has no ONNX export), and kept only if it agrees with the torch network within
ONNX_TOLERANCE on probe histories. Measured figures: docs/bc.md.
"""

from __future__ import annotations

import contextlib
import io
import types
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from policies.bc.layout import BCError
from policies.bc.model import BCNet, Conv1d

BACKENDS = ("auto", "onnx", "torch")
# Largest difference from the torch network kept, relative to the larger of 1 and the output's
# magnitude (normalised actions are about 1): float32 rounding is about 1e-6 here.
ONNX_TOLERANCE = 1e-5
PROBES = 4


def missing_runtime() -> str | None:
    """Why ONNX Runtime cannot be used here (None: it can)."""
    try:
        import onnx  # noqa: F401  (the exporter writes its graph through it)
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install 'dexscrew-sdk[deploy]')"
    return None


@contextlib.contextmanager
def _standard_convolutions(net: nn.Module) -> Iterator[None]:
    """Every unfold + GEMM Conv1d of `net` computes as nn.Conv1d while the block runs."""
    convs = [m for m in net.modules() if isinstance(m, Conv1d)]
    for m in convs:
        m.forward = types.MethodType(nn.Conv1d.forward, m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in convs:
            del m.forward


class OnnxNet:
    """`(q (K, 18), tactile (K, 1800) or None) -> (H, 18)` normalised, as BCNet on a batch of one."""

    def __init__(self, net: BCNet) -> None:
        import onnxruntime as ort

        cfg = net.cfg
        self.use_touch = net.tactile_encoder is not None
        self.names = ["q", "tactile"] if self.use_touch else ["q"]
        example = (torch.zeros(1, cfg.history, cfg.joint_dim),)
        if self.use_touch:
            example += (torch.zeros(1, cfg.history, cfg.tactile_dim),)
        graph = io.BytesIO()
        with _standard_convolutions(net), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notices are not the user's concern
            torch.onnx.export(_Forward(net), example, graph, input_names=self.names, output_names=["actions"],
                              dynamo=False, opset_version=18)  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # one core, as the torch step
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, q: np.ndarray, tactile: np.ndarray | None) -> np.ndarray:
        feed = {"q": q[None]}
        if self.use_touch:
            if tactile is None:
                raise BCError("this model was built with touch: pass the tactile history")
            feed["tactile"] = tactile[None]
        return self.session.run(None, feed)[0][0]


class _Forward(nn.Module):
    """BCNet.forward with the tactile input present only when the model has touch (fixed ONNX inputs)."""

    def __init__(self, net: BCNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, q: torch.Tensor, *tactile: torch.Tensor) -> torch.Tensor:
        return self.net(q, tactile[0] if tactile else None)


def probe_histories(net: BCNet, n: int = PROBES, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Normalised histories spanning the inputs' range (observations are normalised to about [-1, 1])."""
    cfg, rng = net.cfg, np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray | None]] = []
    for i in range(n):
        scale = 0.0 if i == 0 else 1.5
        q = rng.uniform(-scale, scale, (cfg.history, cfg.joint_dim)).astype(np.float32)
        t = rng.uniform(-scale, scale, (cfg.history, cfg.tactile_dim)).astype(np.float32)
        out.append((q, t if net.tactile_encoder is not None else None))
    return out


def torch_forward(net: BCNet, q: np.ndarray, tactile: np.ndarray | None) -> np.ndarray:
    with torch.inference_mode():
        t = None if tactile is None else torch.from_numpy(tactile)[None]
        return net(torch.from_numpy(q)[None], t)[0].numpy()


def mismatch(onnx_net: OnnxNet, net: BCNet, probes: list[tuple[np.ndarray, np.ndarray | None]]) -> float:
    """The largest relative difference between the two on `probes`."""
    worst = 0.0
    for q, t in probes:
        ref = torch_forward(net, q, t)
        gap = float(np.max(np.abs(onnx_net(q, t) - ref))) / max(1.0, float(np.max(np.abs(ref))))
        worst = max(worst, gap if np.isfinite(gap) else np.inf)
    return worst


def build_onnx(net: BCNet, backend: str) -> tuple[OnnxNet | None, dict[str, Any]]:
    """The ONNX network for `backend` ("auto", "onnx", "torch") and what was decided and why.

    "auto" falls back to torch (with the reason) when the runtime is missing or the two disagree;
    "onnx" raises BCError instead."""
    if backend not in BACKENDS:
        raise BCError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return None, {"backend": "torch", "why": "asked for"}
    reason = missing_runtime()
    if reason is None:
        onnx_net = OnnxNet(net)
        gap = mismatch(onnx_net, net, probe_histories(net))
        if gap <= ONNX_TOLERANCE:
            return onnx_net, {"backend": "onnx", "probe_gap": gap}
        reason = f"ONNX Runtime's output differs from torch's by {gap:.3g} (tolerance {ONNX_TOLERANCE})"
    if backend == "onnx":
        raise BCError(f"backend 'onnx' unavailable: {reason}")
    return None, {"backend": "torch", "why": reason}
