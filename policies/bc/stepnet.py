"""Batch-1 inference for a trained `BCNet`: the same network and weights, computed with few operators.

At batch 1 a policy step is bound by per-operator overhead (default preset: ~360 ATen
calls per step in the plain graph) and by reading the weights once (paper preset: 284 MB),
not by arithmetic. `StepNet` lays a BCNet's weights out once for that case:

- activations live in preallocated, zero-padded, time-major buffers (L + 2p, C), so a
  convolution's input columns are a strided view of the buffer (no pad, unfold or permute
  per call) and each convolution is one `addmm` with the weight reshaped to (C_out, k C_in);
  its output is written channel-major, the layout GroupNorm reads, or straight into the
  next buffer through a transposed view;
- the U-Net's concatenation [x, skip] is the two column halves of one buffer;
- a stride-2 transposed convolution (kernel 4, padding 1) is one 3-tap convolution that
  produces both output phases (even steps from taps 1 and 3, odd from 0 and 2);
- the joint/touch encodings of each observation are cached in a ring of the last K
  (`push`), so a step encodes one observation instead of K (`decode` runs the rest).

Nothing here trains, and no output changes beyond float32 rounding (tested against BCNet
to 1e-5). Not thread-safe: the buffers are reused by every call.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from policies.bc.model import BCNet, ConvBlock, Hourglass, ResidualBlock1D

_mish_ = torch._C._nn.mish_


class _Buf:
    """A time-major activation (L, C): columns [c0, c0 + C) of a (L + 2 pad, W) buffer, zero rows around."""

    def __init__(self, length: int, channels: int, pad: int, data: torch.Tensor | None = None, c0: int = 0) -> None:
        self.length, self.channels, self.pad, self.c0 = length, channels, pad, c0
        self.data = torch.zeros(length + 2 * pad, channels) if data is None else data
        self.inner = self.data[pad : pad + length, c0 : c0 + channels]  # (L, C)

    def half(self, lo: int, channels: int) -> _Buf:
        return _Buf(self.length, channels, self.pad, self.data, lo)

    def taps(self, kernel: int, stride: int, padding: int) -> torch.Tensor:
        """The convolution's input windows (L_out, k, C) as a view (overlapping rows)."""
        l_out = (self.length + 2 * padding - kernel) // stride + 1
        row = self.data.stride(0)
        offset = (self.pad - padding) * row + self.c0
        return self.data.as_strided((l_out, kernel, self.channels), (stride * row, row, 1), offset)


# Above this weight size (beyond the per-core L2) the product streams the weights from memory and
# MKL reads them fastest as W @ X' with a channel-major result (paper preset: 35 vs 47 ms per
# step for its 248 MB of convolutions); below it, X @ W' with a time-major result is faster.
_CHANNEL_MAJOR_BYTES = 1 << 20


class _Product:
    """out = cols @ w' + b for a time-major `cols` (M, K), written time-major (M, N) or channel-major.

    With `ones` the last column of `cols` is ones and the bias rides in the product (a
    separate bias add costs more than the product itself at the default preset's sizes).
    """

    def __init__(
        self, w: torch.Tensor, b: torch.Tensor, cols: torch.Tensor, dst: torch.Tensor | None, ones: bool
    ) -> None:
        self.cm = w.numel() * w.element_size() > _CHANNEL_MAJOR_BYTES
        self.bias: torch.Tensor | None = None
        if ones:
            w = torch.cat([w, b[:, None]], dim=1)  # (N, K + 1)
        else:
            self.bias = b.clone()[:, None] if self.cm else b.clone()
        self.w = w.contiguous() if self.cm else w.t().contiguous()
        self.cols, self.cols_t = cols, cols.t()
        m, n = cols.shape[0], w.shape[0]
        if dst is None:  # a result of its own, read by GroupNorm as (1, N, M, 1)
            self.out = torch.empty(n, m) if self.cm else torch.empty(m, n)
            self.out4 = self.out[None, :, :, None] if self.cm else _as4(self.out)
        else:  # a time-major (M, N) view of another buffer
            self.out = dst.t() if self.cm else dst

    def __call__(self) -> None:
        a, b = (self.w, self.cols_t) if self.cm else (self.cols, self.w)
        if self.bias is None:
            torch.mm(a, b, out=self.out)
        else:
            torch.addmm(self.bias, a, b, out=self.out)


class _Conv:
    """A Conv1d on a `_Buf`: gather the windows into `cols` (one copy), then one matrix product."""

    def __init__(self, conv: nn.Conv1d, src: _Buf, dst: torch.Tensor | None = None) -> None:
        (k,), (s,), (p,) = conv.kernel_size, conv.stride, conv.padding  # type: ignore[misc]
        w = conv.weight.detach()  # (C_out, C_in, k) -> (C_out, k C_in), tap-major like the windows
        self.taps = src.taps(k, s, p)
        cols = torch.ones(self.taps.shape[0], k * w.shape[1] + 1)
        self.cols_taps = _as_taps(cols, self.taps.shape)
        self.product = _Product(w.permute(0, 2, 1).reshape(w.shape[0], -1), conv.bias.detach(), cols, dst, True)

    def __call__(self) -> None:
        self.cols_taps.copy_(self.taps)
        self.product()


def _as_taps(cols: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The first k C columns of `cols` (L_out, k C + 1) as (L_out, k, C)."""
    l_out, k, c = shape
    return cols.as_strided((l_out, k, c), (cols.stride(0), c, 1))


def _as4(x: torch.Tensor) -> torch.Tensor:
    """A time-major (L, C) view as (1, C, L, 1), the shape GroupNorm's result has (no per-step views).

    The size-1 dimensions get the strides of a channels-last tensor: with the ones `unsqueeze`
    gives, GroupNorm does not recognise the layout and copies its input on every call."""
    (length, channels), (row, col) = x.shape, x.stride()
    if col != 1:
        raise ValueError(f"a time-major view needs unit channel stride, got strides {x.stride()}")
    return x.as_strided((1, channels, length, 1), (length * row, 1, row, row), x.storage_offset())


class _Norm:
    """GroupNorm + Mish of a product's (1, C, L, 1) result; the result is a new contiguous (1, C, L, 1)."""

    def __init__(self, gn: nn.GroupNorm, z4: torch.Tensor) -> None:
        self.z4 = z4  # contiguous, or channels-last (`_as4`): GroupNorm reads either without a copy
        self.groups, self.eps = gn.num_groups, gn.eps
        self.g, self.b = gn.weight.detach().clone(), gn.bias.detach().clone()

    def __call__(self) -> torch.Tensor:
        return _mish_(torch.group_norm(self.z4, self.groups, self.g, self.b, self.eps))


class _ConvBlock:
    """Conv -> GroupNorm -> Mish from `src`, written into `dst` (L, C)."""

    def __init__(self, block: ConvBlock, src: _Buf, dst: torch.Tensor) -> None:
        self.conv = _Conv(block[0], src)
        self.norm, self.dst = _Norm(block[1], self.conv.product.out4), _as4(dst)

    def __call__(self) -> None:
        self.conv()
        self.dst.copy_(self.norm())


class _Residual:
    """ResidualBlock1D from `src` into `dst` (L, C_out): mish(gn(conv2(h))) + skip(x)."""

    def __init__(self, block: ResidualBlock1D, src: _Buf, dst: torch.Tensor) -> None:
        (cb1, cb2), c_out = block.body, block.body[0][0].out_channels
        self.mid = _Buf(src.length, c_out, src.pad)
        self.first = _ConvBlock(cb1, src, self.mid.inner)
        self.conv2 = _Conv(cb2[0], self.mid)
        self.norm2 = _Norm(cb2[1], self.conv2.product.out4)
        self.skip: _Product | None = None
        if isinstance(block.skip, nn.Conv1d):
            w, b = block.skip.weight.detach()[:, :, 0], block.skip.bias.detach()
            self.skip = _Product(w, b, src.inner, None, False)
            self.x = self.skip.out4
        else:
            self.x = _as4(src.inner)
        self.dst = _as4(dst)

    def __call__(self) -> None:
        self.first()
        self.conv2()
        h = self.norm2()
        if self.skip is not None:
            self.skip()
        torch.add(h, self.x, out=self.dst)


class _Unpool:
    """ConvTranspose1d(C, C, 4, stride 2, padding 1) as a 3-tap conv giving [even | odd] outputs (2 C)."""

    def __init__(self, up: nn.ConvTranspose1d, src: _Buf, dst: torch.Tensor) -> None:
        if (up.kernel_size, up.stride, up.padding) != ((4,), (2,), (1,)):
            raise ValueError(f"unpool must be kernel 4, stride 2, padding 1: {up}")
        w = up.weight.detach()  # (C_in, C_out, 4): y[2m] = W1'x[m] + W3'x[m-1], y[2m+1] = W2'x[m] + W0'x[m+1]
        c_in, c_out = w.shape[0], w.shape[1]
        taps = torch.zeros(2, c_out, 3, c_in)  # (phase, C_out; tap over x[m-1], x[m], x[m+1]; C_in)
        taps[0, :, 0], taps[0, :, 1] = w[:, :, 3].t(), w[:, :, 1].t()
        taps[1, :, 1], taps[1, :, 2] = w[:, :, 2].t(), w[:, :, 0].t()
        self.taps = src.taps(3, 1, 1)
        cols = torch.ones(src.length, 3 * c_in + 1)
        self.cols_taps = _as_taps(cols, self.taps.shape)
        self.product = _Product(taps.reshape(2 * c_out, -1), up.bias.detach().repeat(2), cols, None, True)
        z = self.product.out  # (2 C, L) channel-major or (L, 2 C) time-major
        self.z3 = z.view(2, c_out, src.length) if self.product.cm else z.view(src.length, 2, c_out)
        self.dst = dst.permute(1, 2, 0) if self.product.cm else dst  # dst: (L, 2, C_out), step 2m + phase

    def __call__(self) -> None:
        self.cols_taps.copy_(self.taps)
        self.product()
        self.dst.copy_(self.z3)


def _phases(buf: _Buf) -> torch.Tensor:
    """`buf` (2L, C) as (L, 2, C): [m, phase, c] is step 2m + phase."""
    row = buf.data.stride(0)
    return buf.data.as_strided((buf.length // 2, 2, buf.channels), (2 * row, row, 1), buf.pad * row + buf.c0)


class _Hourglass:
    """The U-Net from tokens in `src` (time-major (H, C_tok)) to `out` (H, down_dims[0])."""

    def __init__(self, hg: Hourglass, src: _Buf, pad: int) -> None:
        self.steps: list[Any] = []
        dims = [blocks[0].body[0][0].out_channels for blocks in hg.down]
        length, x = src.length, src
        ups: list[_Buf] = []
        for i, (blocks, pool) in enumerate(zip(hg.down, hg.pool, strict=True)):
            up_in = _Buf(length, 2 * dims[i], pad)  # [x from below | this level's skip]: the concatenation
            ups.append(up_in)
            a = _Buf(length, dims[i], pad)
            skip = up_in.half(dims[i], dims[i])
            self.steps += [_Residual(blocks[0], x, a.inner), _Residual(blocks[1], a, skip.inner)]
            if isinstance(pool, nn.Conv1d):
                length //= 2
                x = _Buf(length, dims[i], pad)
                self.steps.append(_Conv(pool, skip, x.inner))
            else:
                x = skip
        m = _Buf(length, dims[-1], pad)
        self.steps += [_Residual(hg.mid[0], x, m.inner), _Residual(hg.mid[1], m, ups[-1].half(0, dims[-1]).inner)]
        for j, (blocks, unpool) in enumerate(zip(hg.up, hg.unpool, strict=True)):
            i = len(dims) - 1 - j
            out_c = blocks[0].body[0][0].out_channels
            a, b = _Buf(length, out_c, pad), _Buf(length, out_c, pad)
            self.steps += [_Residual(blocks[0], ups[i], a.inner), _Residual(blocks[1], a, b.inner)]
            if isinstance(unpool, nn.ConvTranspose1d):
                self.steps.append(_Unpool(unpool, b, _phases(ups[i - 1].half(0, out_c))))
                length *= 2
            else:
                self.out = b

    def __call__(self) -> None:
        for step in self.steps:
            step()


def _linears(seq: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(m.weight.detach().t().contiguous(), m.bias.detach().clone()) for m in seq if isinstance(m, nn.Linear)]


def _mlp(layers: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, out: torch.Tensor) -> None:
    """ReLU between layers, none after the last (written into `out`)."""
    for i, (w_t, b) in enumerate(layers):
        if i == len(layers) - 1:
            torch.addmm(b, x, w_t, out=out)
        else:
            x = torch.addmm(b, x, w_t).relu_()


class StepNet:
    """A BCNet for batch-1 steps: `push` one normalised observation, `decode` the (H, 18) chunk."""

    def __init__(self, net: BCNet) -> None:
        cfg = self.cfg = net.cfg
        k, h, pad = cfg.history, cfg.horizon, cfg.kernel // 2
        self.joint = _linears(net.joint_encoder)
        self.tactile = None if net.tactile_encoder is None else _linears(net.tactile_encoder)
        self.jf = cfg.joint_mlp[-1]
        f = cfg.feature_dim
        self.ring = torch.zeros(2 * k, f)  # step t's features at rows t % K and t % K + K
        self.slot = k - 1
        self.windows = [self.ring[i + 1 : i + 1 + k].reshape(-1) for i in range(k)]  # views, oldest first
        self.slots = [  # per slot: where its joint and touch features go, its row and the row's twin
            (self.ring[i : i + 1, : self.jf], self.ring[i : i + 1, self.jf :], self.ring[i], self.ring[i + k])
            for i in range(k)
        ]
        self.full = torch.zeros(k, f)  # the re-encoded history of `forward`
        # to_tokens: rows reordered so its output is the time-major (H, token_dim) token buffer
        tok = _Buf(h, cfg.token_dim, pad)
        w, b = net.to_tokens.weight.detach(), net.to_tokens.bias.detach()
        self.tok_w = w.view(cfg.token_dim, h, -1).transpose(0, 1).reshape(h * cfg.token_dim, -1).contiguous()
        self.tok_b = b.view(cfg.token_dim, h).t().reshape(-1).clone()
        self.tok_out = tok.inner.view(-1)
        self.hourglass = _Hourglass(net.hourglass, tok, pad)
        d0 = cfg.down_dims[0]
        head_in = _Buf(h, d0, pad)
        self.head_block = _ConvBlock(net.head[0], self.hourglass.out, head_in.inner)
        last = net.head[1]
        self.head_w = last.weight.detach()[:, :, 0].t().contiguous()  # (d0, action_dim)
        self.head_b = last.bias.detach().clone()
        self.head_x = head_in.inner
        self.action = torch.empty(h, cfg.action_dim)

    def _encode(self, q: torch.Tensor, t: torch.Tensor | None, out: tuple[torch.Tensor, torch.Tensor]) -> None:
        _mlp(self.joint, q, out[0])
        if self.tactile is not None:
            if t is None:
                raise ValueError("this network was built with touch: pass the tactile frame")
            _mlp(self.tactile, t, out[1])

    def push(self, q: torch.Tensor, t: torch.Tensor | None) -> None:
        """Encode one normalised observation, q (1, 18), t (1, 1800), as the newest history step."""
        i = self.slot = (self.slot + 1) % self.cfg.history
        joint, touch, row, twin = self.slots[i]
        self._encode(q, t, (joint, touch))
        twin.copy_(row)

    def fill(self, q: torch.Tensor, t: torch.Tensor | None) -> None:
        """All K history steps = this observation (the start of an episode)."""
        self.push(q, t)
        self.ring.copy_(self.ring[self.slot].clone().expand_as(self.ring))

    def decode(self) -> torch.Tensor:
        """The normalised (H, 18) chunk for the cached history (a buffer: copy it to keep it)."""
        return self._decode(self.windows[self.slot])

    @torch.inference_mode()
    def forward(self, q: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        """The whole network on a normalised history q (K, 18), t (K, 1800): K encodings, then decode."""
        self._encode(q, t, (self.full[:, : self.jf], self.full[:, self.jf :]))
        return self._decode(self.full.view(-1))

    def _decode(self, cond: torch.Tensor) -> torch.Tensor:
        torch.addmv(self.tok_b, self.tok_w, cond, out=self.tok_out)
        self.hourglass()
        self.head_block()
        return torch.addmm(self.head_b, self.head_x, self.head_w, out=self.action)


__all__ = ["StepNet"]
