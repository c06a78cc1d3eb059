"""The batch-1 inference plan computes the trained network's outputs (to 1e-5), step by step and whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies.bc import stepnet
from policies.bc.model import BCNet, ModelConfig, preset
from policies.bc.stepnet import StepNet


def _trained_looking(cfg: ModelConfig, seed: int = 0) -> BCNet:
    """Random weights, and GroupNorm affine parameters away from (1, 0), so every weight matters."""
    torch.manual_seed(seed)
    net = BCNet(cfg).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return net


VARIANTS = {
    "tiny, touch, K=5": ModelConfig(joint_mlp=(32, 32), tactile_mlp=(32, 16), down_dims=(16, 32), token_dim=16),
    "no touch, K=1": ModelConfig(joint_mlp=(16, 16), down_dims=(8, 16, 32), token_dim=8, history=1, use_touch=False),
    "one level, H=8": ModelConfig(down_dims=(16,), token_dim=16, horizon=8, history=3),
    "default": preset("default"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_plan_equals_the_network_on_a_whole_history(name: str) -> None:
    cfg = VARIANTS[name]
    net = _trained_looking(cfg)
    q = torch.randn(1, cfg.history, 18)
    t = torch.randn(1, cfg.history, 1800) * 2 if cfg.use_touch else None
    with torch.no_grad():
        want = net(q, t)[0]
        got = StepNet(net).forward(q[0], None if t is None else t[0])
    assert got.shape == (cfg.horizon, 18)
    assert (got - want).abs().max().item() < 1e-5


def test_cached_encodings_give_the_network_on_the_sliding_history() -> None:
    cfg = VARIANTS["tiny, touch, K=5"]
    net, k = _trained_looking(cfg, seed=1), cfg.history
    q, t = torch.randn(12, 18), torch.randn(12, 1800)
    plan = StepNet(net)
    with torch.no_grad():
        plan.fill(q[:1], t[:1])
        for step in range(1, 12):
            plan.push(q[step : step + 1], t[step : step + 1])
            idx = [max(0, i) for i in range(step - k + 1, step + 1)]  # before step 0: the first repeated
            want = net(q[idx][None], t[idx][None])[0]
            assert (plan.decode() - want).abs().max().item() < 1e-5, f"step {step}"


def test_the_paper_presets_large_layers_use_the_channel_major_product_and_stay_equal() -> None:
    cfg = ModelConfig(**{**preset("paper").to_dict(), "down_dims": (256, 512)})  # the paper's widths, 2 levels
    net = _trained_looking(cfg, seed=2)
    plan = StepNet(net)
    blocks = [s for s in plan.hourglass.steps if isinstance(s, stepnet._Residual)]
    pools = [s.product for s in plan.hourglass.steps if isinstance(s, (stepnet._Conv, stepnet._Unpool))]
    assert all(b.first.conv.product.cm and b.conv2.product.cm for b in blocks)  # 3.3-26 MB weights
    assert not all(p.cm for p in pools)  # the 0.8 MB stride-2 convolution is time-major: both forms exercised
    q, t = torch.randn(1, 5, 18), torch.randn(1, 5, 1800)
    with torch.no_grad():
        assert (plan.forward(q[0], t[0]) - net(q, t)[0]).abs().max().item() < 1e-5


def test_a_touch_plan_without_the_tactile_frame_is_refused() -> None:
    plan = StepNet(_trained_looking(VARIANTS["tiny, touch, K=5"]))
    with pytest.raises(ValueError, match="tactile"):
        plan.push(torch.zeros(1, 18), None)


def test_an_unpool_other_than_kernel_4_stride_2_is_refused() -> None:
    net = _trained_looking(VARIANTS["tiny, touch, K=5"])
    net.hourglass.unpool[0] = torch.nn.ConvTranspose1d(16, 16, 2, stride=2)
    with pytest.raises(ValueError, match="kernel 4, stride 2, padding 1"):
        StepNet(net)


def test_the_plan_holds_copies_training_cannot_change_behind_its_back() -> None:
    cfg = VARIANTS["tiny, touch, K=5"]
    net = _trained_looking(cfg)
    plan = StepNet(net)
    q, t = torch.randn(5, 18), torch.randn(5, 1800)
    before = plan.forward(q, t).clone()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    np.testing.assert_array_equal(plan.forward(q, t).numpy(), before.numpy())


def test_a_step_allocates_no_copies_of_its_activations() -> None:
    """GroupNorm copies an input whose layout it does not recognise; every norm input is laid out so it does not."""
    plan = StepNet(_trained_looking(preset("default")))
    q, t = torch.randn(1, 18), torch.randn(1, 1800)
    with torch.inference_mode():
        plan.fill(q, t)
        with torch.profiler.profile() as prof:
            plan.push(q, t)
            plan.decode()
    ops = {e.key: e.count for e in prof.key_averages()}
    assert ops.get("aten::native_group_norm", 0) > 0  # the profile saw the step
    assert ops.get("aten::clone", 0) == 0 and ops.get("aten::contiguous", 0) == 0, ops
