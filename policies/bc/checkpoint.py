"""BC checkpoints: everything needed to refuse a mismatched cell, written atomically.

A checkpoint holds the layout (joint names and order, units, tactile shape, K, H, rate),
the normalisation, the model config, the live and the EMA weights (the EMA deploys),
the dataset identity (uuid, index hash, episodes used for training and validation)
and the filter, plus the optimiser/scheduler state and the position in training for
resume. Only tensors, numbers, strings, lists and dicts: it loads with
`torch.load(weights_only=True)`, so opening a checkpoint never runs pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dexscrew_sdk.atomic import write_atomic
from policies.bc.layout import BCError, BCLayout
from policies.bc.model import BCNet, ModelConfig
from policies.bc.normalise import Normaliser

FORMAT = "dexscrew-bc-checkpoint/1"
REQUIRED = ("layout", "model_config", "normaliser", "model", "ema", "dataset")


def save(path: Path, payload: dict[str, Any]) -> Path:
    """Written atomically (`dexscrew_sdk.atomic`): an interrupted save never corrupts the previous checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: torch.save({**payload, "format": FORMAT}, f))
    return path


def load_raw(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise BCError(f"BC checkpoint {path} does not exist (dexscrew train-bc writes RUN/checkpoint_best.pt)")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BCError(f"BC checkpoint {path} is unreadable: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise BCError(f"{path} is not a BC checkpoint of this SDK (format {got!r}, expected {FORMAT!r})")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise BCError(f"{path}: checkpoint lacks {missing}")
    return data


@dataclass
class LoadedPolicy:
    """What deployment needs from a checkpoint (weights: EMA unless asked otherwise)."""

    net: BCNet
    layout: BCLayout
    normaliser: Normaliser
    model_config: ModelConfig
    dataset: dict[str, Any]
    path: Path


def load_policy(path: Path, weights: str = "ema") -> LoadedPolicy:
    if weights not in ("ema", "model"):
        raise BCError(f"weights must be 'ema' or 'model', got {weights!r}")
    data = load_raw(path)
    layout = BCLayout.from_dict(data["layout"])
    try:
        cfg = ModelConfig.from_dict(data["model_config"])
    except (TypeError, KeyError) as exc:
        raise BCError(f"{path}: model_config is malformed: {exc!r}") from None
    if (cfg.history, cfg.horizon, cfg.use_touch) != (layout.history, layout.horizon, layout.use_touch):
        raise BCError(f"{path}: model_config (K, H, touch) disagrees with the layout")
    net = BCNet(cfg)
    try:
        net.load_state_dict(data[weights])
    except RuntimeError as exc:
        raise BCError(f"{path}: {weights} weights do not fit the stored model_config: {exc}") from None
    net.eval()
    return LoadedPolicy(net, layout, Normaliser.from_dict(data["normaliser"]), cfg, data["dataset"], Path(path))
