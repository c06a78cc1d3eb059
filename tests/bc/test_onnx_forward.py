"""The ONNX Runtime network: equal to torch on every preset shape, chosen only when it is, and refused clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies.bc import onnx_forward
from policies.bc.config import preset
from policies.bc.layout import BCError
from policies.bc.model import BCNet, Conv1d
from policies.bc.onnx_forward import ONNX_TOLERANCE, OnnxNet, build_onnx, probe_histories, torch_forward
from tests.bc.conftest import needs_onnx, tiny_model


@needs_onnx
@pytest.mark.parametrize(
    "cfg",
    [preset("default"), tiny_model(), tiny_model(use_touch=False), tiny_model(history=1), tiny_model(down_dims=(16,))],
    ids=["default", "tiny", "no_touch", "k1", "one_level"],
)
def test_the_onnx_network_equals_torch(cfg) -> None:
    torch.manual_seed(3)
    net = BCNet(cfg).eval()
    onnx_net = OnnxNet(net)
    for q, t in probe_histories(net, 6, seed=5):
        ref = torch_forward(net, q, t)
        assert ref.shape == (cfg.horizon, cfg.action_dim)
        np.testing.assert_allclose(onnx_net(q, t), ref, atol=ONNX_TOLERANCE)


@needs_onnx
def test_exporting_leaves_the_training_convolutions_as_they_were() -> None:
    net = BCNet(tiny_model()).eval()
    OnnxNet(net)
    convs = [m for m in net.modules() if isinstance(m, Conv1d)]
    assert convs and all("forward" not in vars(m) for m in convs)  # the export's stand-in is gone


@needs_onnx
def test_auto_keeps_torch_when_the_two_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    net = BCNet(tiny_model()).eval()
    monkeypatch.setattr(onnx_forward, "mismatch", lambda *a: 3e-4)
    chosen, why = build_onnx(net, "auto")
    assert chosen is None and why["backend"] == "torch" and "differs from torch's by 0.0003" in why["why"]
    with pytest.raises(BCError, match="backend 'onnx' unavailable: ONNX Runtime's output differs"):
        build_onnx(net, "onnx")


def test_without_the_runtime_auto_is_torch_and_onnx_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    net = BCNet(tiny_model()).eval()
    monkeypatch.setattr(onnx_forward, "missing_runtime", lambda: "onnxruntime is not installed (pip install x)")
    chosen, why = build_onnx(net, "auto")
    assert chosen is None and why == {"backend": "torch", "why": "onnxruntime is not installed (pip install x)"}
    with pytest.raises(BCError, match="backend 'onnx' unavailable: onnxruntime is not installed"):
        build_onnx(net, "onnx")
    with pytest.raises(BCError, match=r"backend must be one of \['auto', 'onnx', 'torch'\], got 'tensorrt'"):
        build_onnx(net, "tensorrt")


@needs_onnx
def test_a_network_with_touch_refuses_a_missing_tactile_history() -> None:
    net = BCNet(tiny_model()).eval()
    q, _ = probe_histories(net, 1)[0]
    with pytest.raises(BCError, match="built with touch"):
        OnnxNet(net)(q, None)
