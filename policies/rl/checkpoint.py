"""Training checkpoints: atomic writes, and validation that names what differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from policies.rl.sdk import sdk_module

# Loaded by file on Python 3.8 (IsaacGym), where the SDK package cannot be imported; imported otherwise.
_atomic = sdk_module("atomic")
_errors = sdk_module("errors")

FORMAT = "dexscrew-rl-checkpoint/1"


class CheckpointError(_errors.DexscrewError, ValueError):
    """A checkpoint is missing, unreadable or does not match the expected layout.

    An SDK error like any other (`except DexscrewError` catches it, the command line reports it without a
    traceback); on Python 3.8 its base is the same class loaded from dexscrew_sdk/errors.py alone."""


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically (temp file + rename), so an interrupted save never corrupts the last one."""
    _atomic.write_atomic(Path(path), lambda f: torch.save(dict(payload, format=FORMAT), f))


def load(path: Path, stage: str | tuple[str, ...], layout: dict[str, Any]) -> dict[str, Any]:
    """Load a checkpoint of `stage` (or one of several) and check its layout; raises CheckpointError saying
    what differs."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path} is not a training checkpoint of this SDK (format {got!r}, expected {FORMAT!r})")
    stages = (stage,) if isinstance(stage, str) else stage
    if data.get("stage") not in stages:
        expected = " or ".join(repr(s) for s in stages)
        raise CheckpointError("{} is a {!r} checkpoint, expected {}".format(path, data.get("stage"), expected))
    check_layout(data.get("layout", {}), layout, str(path))
    return data


def check_layout(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    diffs = [f"{k}: {got.get(k)!r} != expected {v!r}" for k, v in expected.items() if got.get(k) != v]
    if diffs:
        raise CheckpointError("{} does not match this task's layout: {}".format(what, "; ".join(diffs)))
