"""The BC network: sizes of the presets, shapes, ablations, and the convolution it computes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.bc.layout import BCError
from policies.bc.model import BCNet, Conv1d, ModelConfig, parameter_count, preset


def test_presets_have_their_stated_sizes() -> None:
    default = parameter_count(BCNet(preset("default")))
    paper = parameter_count(BCNet(preset("paper")))
    assert default == 1_564_402 and default >= 1_000_000  # the CPU-sized default (docs/bc.md)
    assert paper == 70_951_058  # 256-256-64 MLPs, U-Net 256/512/1024, K = 5, H = 16


def test_paper_preset_uses_the_papers_layers() -> None:
    net = BCNet(preset("paper"))
    assert [m.out_features for m in net.tactile_encoder if isinstance(m, torch.nn.Linear)] == [256, 256, 64]
    assert net.tactile_encoder[0].in_features == 1800
    convs = [m for m in net.hourglass.down.modules() if isinstance(m, Conv1d) and m.kernel_size == (5,)]
    assert {c.out_channels for c in convs} == {256, 512, 1024}
    assert any(isinstance(m, torch.nn.GroupNorm) and m.num_groups == 8 for m in net.modules())
    assert any(isinstance(m, torch.nn.Mish) for m in net.modules())


@pytest.mark.parametrize(("touch", "history"), [(True, 5), (False, 5), (True, 1), (False, 1)])
def test_the_four_variants_map_history_to_an_18d_chunk(touch: bool, history: int) -> None:
    cfg = ModelConfig(joint_mlp=(16, 16), tactile_mlp=(16, 8), down_dims=(8, 16, 32), token_dim=8, history=history,
                      use_touch=touch)  # fmt: skip
    net = BCNet(cfg)
    q, t = torch.randn(3, history, 18), torch.randn(3, history, 1800)
    out = net(q, t if touch else None)
    assert out.shape == (3, 16, 18)
    assert (net.tactile_encoder is None) == (not touch)
    if touch:
        t2 = t.clone()
        t2[:, -1] += 1.0
        assert not torch.allclose(net(q, t2), out)  # the newest touch frame reaches the output


def test_a_touch_model_without_touch_input_is_refused() -> None:
    net = BCNet(ModelConfig(joint_mlp=(16,), tactile_mlp=(16,), down_dims=(8,), token_dim=8))
    with pytest.raises(BCError, match="touch"):
        net(torch.randn(1, 5, 18))


def test_a_horizon_the_unet_cannot_halve_is_refused() -> None:
    with pytest.raises(BCError, match="divisible"):
        ModelConfig(down_dims=(32, 64, 128), horizon=6)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3, 5]), st.integers(1, 2),
    st.integers(1, 20),
)  # fmt: skip
def test_conv1d_matches_torchs_convolution(b: int, c_in: int, c_out: int, k: int, stride: int, length: int) -> None:
    conv = Conv1d(c_in, c_out, k, stride=stride, padding=k // 2)
    x = torch.randn(b, c_in, length)
    ref = torch.nn.functional.conv1d(x, conv.weight, conv.bias, stride=stride, padding=k // 2)
    torch.testing.assert_close(conv(x), ref, rtol=1e-5, atol=1e-5)
