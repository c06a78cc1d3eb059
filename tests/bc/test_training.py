"""BC training: loss falls, EMA apart from live weights, warm-up, skipped steps, checkpoints, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from policies.bc import checkpoint
from policies.bc.algorithm import BehaviourCloning, OptimConfig, lr_factor
from policies.bc.data import from_arrays, synthetic_episodes
from policies.bc.layout import JOINT_NAMES
from policies.bc.model import BCNet
from policies.bc.normalise import Normaliser
from policies.bc.policy import TorchNormaliser
from policies.bc.runner import BCRunner, RunConfig
from policies.bc.windows import WindowDataset
from tests.bc.conftest import tiny_model


def _cfg(epochs: int, **kw: object) -> RunConfig:
    cfg = RunConfig(epochs=epochs, batch_size=32, progress=False, workers=0, threads=1, tensorboard=False, **kw)
    cfg.optim.warmup_steps, cfg.optim.lr = 10, 3e-3
    return cfg


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_training_loss_falls_by_at_least_half(tmp_path: Path) -> None:
    data = from_arrays(synthetic_episodes(4, 100, seed=1))
    BCRunner(data, tmp_path, tiny_model(), _cfg(8)).train()
    log = _log(tmp_path)
    assert log[-1]["train_loss"] <= 0.5 * log[0]["train_loss"], log
    assert log[-1]["skipped_steps"] == 0


def test_ema_is_kept_apart_from_the_live_weights_and_evaluation_leaves_them_alone(tmp_path: Path) -> None:
    data = from_arrays(synthetic_episodes(3, 60, seed=2))
    runner = BCRunner(data, tmp_path, tiny_model(), _cfg(2))
    runner.train()
    live = {k: v.clone() for k, v in runner.net.state_dict().items()}
    runner.validate()
    for k, v in runner.net.state_dict().items():
        assert torch.equal(v, live[k]), k  # evaluation never copies EMA weights into the trained model
    ck = checkpoint.load_raw(tmp_path / "checkpoint_last.pt")
    assert any(not torch.equal(ck["model"][k], ck["ema"][k]) for k in ck["model"])
    assert all(ck["ema"][k].data_ptr() != runner.net.state_dict()[k].data_ptr() for k in ck["ema"])
    loaded = checkpoint.load_policy(tmp_path / "checkpoint_last.pt")
    assert all(torch.equal(loaded.net.state_dict()[k], ck["ema"][k]) for k in ck["ema"])  # EMA deploys


def test_warm_up_follows_its_argument_then_cosine() -> None:
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(4, 10, 100) == pytest.approx(0.5)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0)
    eps = synthetic_episodes(1, 40)
    norm = TorchNormaliser(Normaliser.fit([(e.q, e.tactile, e.action) for e in eps], 40))
    net = BCNet(tiny_model())
    algo = BehaviourCloning(net, net, norm, OptimConfig(lr=1e-3, warmup_steps=20, total_steps=100))
    batch = WindowDataset(eps, 5, 16)[np.arange(8)]
    lrs = [algo.update(batch)["lr"] for _ in range(3)]
    assert lrs == pytest.approx([1e-3 / 20, 2e-3 / 20, 3e-3 / 20])


def test_a_non_finite_loss_skips_the_step_and_is_counted() -> None:
    eps = synthetic_episodes(1, 40)
    norm = TorchNormaliser(Normaliser.fit([(e.q, e.tactile, e.action) for e in eps], 40))
    net = BCNet(tiny_model())
    algo = BehaviourCloning(net, net, norm, OptimConfig(warmup_steps=0))
    batch = WindowDataset(eps, 5, 16)[np.arange(8)]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    bad = dict(batch, q=batch["q"].clone())
    bad["q"][0, 0, 0] = math.nan
    stats = algo.update(bad)
    assert stats["skipped"] == 1.0 and algo.skipped == 1 and algo.step == 0 and algo.ema.updates == 0
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert algo.update(batch)["skipped"] == 0.0 and algo.step == 1


def test_checkpoint_states_layout_normalisation_dataset_and_filter(tmp_path: Path) -> None:
    data = from_arrays(synthetic_episodes(3, 50, seed=3))
    cfg = _cfg(1)
    cfg.tensorboard = True
    BCRunner(data, tmp_path, tiny_model(history=1, use_touch=False), cfg).train()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))  # TensorBoard logs
    ck = torch.load(tmp_path / "checkpoint_best.pt", weights_only=True)  # nothing pickled beyond plain data
    lay = ck["layout"]
    assert lay["joint_names"] == list(JOINT_NAMES) and lay["joint_names"][12] == "shoulder_pan"
    assert (lay["history"], lay["horizon"], lay["control_hz"], lay["use_touch"]) == (1, 16, 20.0, False)
    assert lay["tactile_shape"] == [5, 120, 3] and lay["units"]["q"] == "rad"
    assert ck["normaliser"]["tactile"] is None and len(ck["normaliser"]["action"]["lo"]) == 18
    ds = ck["dataset"]
    assert ds["filter"]["success_only"] is True and len(ds["index_sha256"]) == 64
    names = [e["name"] for e in ds["train_episodes"] + ds["val_episodes"]]
    assert sorted(names) == ["synthetic_000", "synthetic_001", "synthetic_002"] and len(ds["val_episodes"]) == 1


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    data = from_arrays(synthetic_episodes(3, 80, seed=4))
    BCRunner(data, tmp_path / "whole", tiny_model(), _cfg(3)).train()
    part = BCRunner(data, tmp_path / "split", tiny_model(), _cfg(3, max_steps=4))
    assert part.train()["interrupted"]
    ck = checkpoint.load_raw(tmp_path / "split" / "checkpoint_last.pt")
    assert (ck["epoch"], ck["batch_in_epoch"]) == (0, 4)  # 5 batches per epoch: stopped inside the first
    resumed = BCRunner(
        data, tmp_path / "split", tiny_model(), _cfg(3), resume=tmp_path / "split" / "checkpoint_last.pt"
    )
    assert not resumed.train()["interrupted"]
    a = checkpoint.load_raw(tmp_path / "whole" / "checkpoint_last.pt")
    b = checkpoint.load_raw(tmp_path / "split" / "checkpoint_last.pt")
    assert a["training"]["step"] == b["training"]["step"] == 15
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a["ema"][k], b["ema"][k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("cores", "env", "world", "workers", "expected"),
    [
        (2, None, 1, 0, 2),  # alone: every core
        (2, "1", 1, 0, 1),  # a pipeline running two trainings side by side says so
        (8, "2", 1, 1, 2),
        (2, "4", 1, 0, 2),  # a cap, never more than the free cores
        (4, None, 2, 1, 1),  # torchrun's processes share the cores
        (2, "", 1, 0, 2),
        (2, "many", 1, 0, 2),  # not a thread count: ignored
    ],
)
def test_compute_threads_follow_the_free_cores_capped_by_omp_num_threads(
    monkeypatch: pytest.MonkeyPatch, cores: int, env: str | None, world: int, workers: int, expected: int
) -> None:
    from policies.bc import runner

    monkeypatch.setattr(runner, "usable_cores", lambda: cores)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert runner.default_threads(world, workers) == expected
