"""Fixtures of the BC tests: a tiny model config and recorded datasets on real episode files."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.bc.config import ModelConfig
from policies.bc.onnx_forward import missing_runtime

needs_onnx = pytest.mark.skipif(missing_runtime() is not None, reason=f"ONNX Runtime unusable: {missing_runtime()}")


def tiny_model(**kw: object) -> ModelConfig:
    """A few thousand parameters: fast enough to train in a test on a shared CPU."""
    base = {"joint_mlp": (32, 32), "tactile_mlp": (32, 16), "down_dims": (16, 32), "token_dim": 16}
    return ModelConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """Four synthetic episodes written by the real recorder (two successful)."""
    from dexscrew_sdk.recording.synthetic import record_synthetic_dataset

    root = tmp_path / "demos"
    record_synthetic_dataset(root, episodes=4, steps=40)
    return root


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    """Tests share 2 cores with other work: one compute thread each (see runner.default_threads)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small checkpoint trained for one epoch on synthetic episodes (actions inside every joint limit)."""
    import torch

    from policies.bc.data import from_arrays, synthetic_episodes
    from policies.bc.runner import BCRunner, RunConfig

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bc_run")
    cfg = RunConfig(epochs=1, batch_size=32, progress=False, workers=0, threads=1, tensorboard=False)
    BCRunner(from_arrays(synthetic_episodes(3, 60, seed=5)), out, tiny_model(), cfg).train()
    return out / "checkpoint_last.pt"
