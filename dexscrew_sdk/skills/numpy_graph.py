"""A numpy evaluator for an exported skill's TorchScript graph.

A skill step is one forward pass of a small network at batch 1: under torch most of its time is
per-operator dispatch and, inside a control loop that runs other work between calls, cold caches
(measured in a recording: 1.2-1.6 ms of CPU per call under torch, 0.9-1.0 ms here;
docs/recording.md, "Benchmark"). `compile_graph` turns the module's inlined graph into a list of numpy steps once; it
accepts only the operators the exported skills are made of (linear, 1-D convolution, ELU, tanh,
normalisation arithmetic, clamp, reshapes, concatenation) and raises `Unsupported` for anything
else, so a skill built differently keeps running under torch. The loader compares both on probe
inputs before it uses this one (policy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Unsupported(Exception):
    """The graph uses something this evaluator does not implement: run the module under torch."""


Program = Callable[..., np.ndarray]


def _elu(x: np.ndarray, alpha: float, scale: float, input_scale: float) -> np.ndarray:
    # max(x, 0) + alpha (e^min(x, 0) - 1): x itself above 0 (plus an exact 0), the exponential branch below
    neg = np.expm1(np.minimum(x, 0.0) * input_scale if input_scale != 1.0 else np.minimum(x, 0.0))
    out = np.maximum(x, 0.0) + (neg * alpha if alpha != 1.0 else neg)
    return out * scale if scale != 1.0 else out


def _conv1d(weight: np.ndarray, bias: np.ndarray | None, stride: int) -> Callable[[np.ndarray], np.ndarray]:
    """(B, C, T) -> (B, O, T') for a fixed (O, C, K) kernel, no padding, no dilation, one group: the windows
    gathered with one index (cached per input length) and one matmul against the kernel laid out (K, C)."""
    out_c, in_c, k = weight.shape
    w_kc = np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(k * in_c, out_c))
    index: dict[int, np.ndarray] = {}

    def run(x: np.ndarray) -> np.ndarray:
        length = x.shape[-1]
        idx = index.get(length)
        if idx is None:
            steps = (length - k) // stride + 1
            if steps < 1:
                raise ValueError(f"convolution input of length {length} is shorter than its kernel {k}")
            idx = index[length] = np.arange(k)[None, :] + stride * np.arange(steps)[:, None]
        cols = np.swapaxes(x, -1, -2)[:, idx]  # (B, T', K, C)
        y = cols.reshape(x.shape[0], idx.shape[0], k * in_c) @ w_kc
        if bias is not None:
            y = y + bias
        return np.swapaxes(y, -1, -2)

    return run


def _convolution(v: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
    """aten::_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, ...)
    with everything but the input fixed: the kernel's step."""
    _, w, b, stride, padding, dilation, transposed, _, groups = v[:9]
    if not isinstance(w, np.ndarray) or w.ndim != 3 or transposed or groups != 1:
        raise Unsupported("only 1-D convolutions with a fixed kernel and one group")
    if list(dilation) != [1] or list(padding) != [0]:
        raise Unsupported("only convolutions without padding or dilation")
    return _conv1d(w, b, int(stride[0]))


def _flatten(v: list[Any]) -> np.ndarray:
    x, start, end = v
    if end not in (-1, x.ndim - 1):
        raise Unsupported("flatten that keeps trailing dimensions")
    return x.reshape(*x.shape[:start], -1)


def _alpha(fn: Callable[[Any, Any], Any]) -> Callable[[list[Any]], Any]:
    def run(v: list[Any]) -> Any:
        if v[2] != 1:
            raise Unsupported("add/sub with alpha != 1")
        return fn(v[0], v[1])

    return run


def _clamp(v: list[Any]) -> np.ndarray:
    x, lo, hi = v  # minimum(maximum()) is np.clip's arithmetic without its Python-level dispatch
    if lo is not None:
        x = np.maximum(x, lo)
    return x if hi is None else np.minimum(x, hi)


_OPS: dict[str, Callable[[list[Any]], Any]] = {
    "aten::linear": lambda v: v[0] @ v[1].T + v[2] if v[2] is not None else v[0] @ v[1].T,
    "aten::elu": lambda v: _elu(v[0], float(v[1]), float(v[2]), float(v[3])),
    "aten::tanh": lambda v: np.tanh(v[0]),
    "aten::sqrt": lambda v: np.sqrt(v[0]),
    "aten::div": lambda v: v[0] / v[1],
    "aten::mul": lambda v: v[0] * v[1],
    "aten::sub": _alpha(lambda a, b: a - b),
    "aten::add": _alpha(lambda a, b: a + b),
    "aten::clamp": _clamp,
    "aten::transpose": lambda v: np.swapaxes(v[0], v[1], v[2]),
    "aten::flatten": _flatten,
    "aten::cat": lambda v: np.concatenate(v[0], axis=v[1]),
    "prim::ListConstruct": lambda v: list(v),
}


def _value(obj: Any, dtype: type) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.dtype != torch.float32 and not (obj.dim() == 0 and obj.is_floating_point()):
            raise Unsupported(f"a {obj.dtype} tensor (the skills compute in float32)")
        return obj.detach().cpu().numpy().astype(dtype)
    return obj


def compile_graph(module: Any, dtype: type = np.float32) -> Program:
    """A numpy function of the module's forward inputs (arrays), equal to the module up to float rounding."""
    graph = module.inlined_graph
    inputs = list(graph.inputs())
    env: dict[Any, Any] = {inputs[0].unique(): module}  # the module itself: GetAttr chains start here
    steps: list[tuple[Callable[[list[Any]], Any], list[int], int]] = []
    params: dict[int, Any] = {}  # values fixed at compile time (constants, parameters, buffers)
    for node in graph.nodes():
        kind, outs = node.kind(), list(node.outputs())
        ins = [i.unique() for i in node.inputs()]
        if len(outs) != 1:
            raise Unsupported(f"operator {kind} with {len(outs)} outputs")
        out = outs[0].unique()
        if kind == "prim::Constant":
            params[out] = _value(outs[0].toIValue(), dtype)
        elif kind == "prim::GetAttr":
            owner = env.get(ins[0])
            if owner is None:
                raise Unsupported("an attribute of a computed value")
            env[out] = getattr(owner, node.s("name"))
            params[out] = _value(env[out], dtype)
        elif kind == "aten::_convolution":
            if ins[0] in params or any(i not in params for i in ins[1:]):
                raise Unsupported("a convolution whose kernel is computed")
            conv = _convolution([None] + [params[i] for i in ins[1:]])
            steps.append((lambda v, conv=conv: conv(v[0]), ins[:1], out))
        elif kind in _OPS:
            if all(i in params for i in ins):  # constants and parameters only: fold now (e.g. sqrt(var + eps))
                params[out] = _OPS[kind]([params[i] for i in ins])
            else:
                steps.append((_OPS[kind], ins, out))
        else:
            raise Unsupported(f"operator {kind}")
    out_ids = [o.unique() for o in graph.outputs()]
    if len(out_ids) != 1:
        raise Unsupported("more than one output")
    arg_ids = [i.unique() for i in inputs[1:]]
    result = out_ids[0]

    def run(*args: np.ndarray) -> np.ndarray:
        vals = dict(params)
        for i, a in zip(arg_ids, args, strict=True):
            vals[i] = np.asarray(a, dtype=dtype)
        for fn, ins, out in steps:
            vals[out] = fn([vals[i] for i in ins])
        return vals[result]

    return run
