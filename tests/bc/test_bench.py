"""`dexscrew bench bc` pieces produce their figures (a smoke run; figures are measured alone, later)."""

from __future__ import annotations

import pytest

from policies.bc.bench import bench_inference, bench_training

pytestmark = pytest.mark.slow


def test_inference_bench_reports_the_policy_step_against_the_bare_forward_pass() -> None:
    r = bench_inference("default", steps=5)
    assert r["params"] == 1_564_402
    assert r["infer_p99_ms"] > 0 and r["forward_p99_ms"] > 0
    assert r["infer_over_forward_p99"] == pytest.approx(r["infer_p99_ms"] / r["forward_p99_ms"], rel=1e-2)
    assert r["torch_infer_p99_ms"] > 0 and r["backend"]["backend"] in ("onnx", "torch") and r["load_s"] > 0
    assert r["infer_over_torch_p99"] == pytest.approx(r["infer_p99_ms"] / r["torch_infer_p99_ms"], rel=1e-2)


def test_training_bench_reads_fifty_episode_files_and_compares_with_memory() -> None:
    r = bench_training(episodes=50, episode_steps=12, steps=2, batch=16)
    files, mem = r["files"], r["in_memory"]
    assert files["episodes"] == 50 and files["frames"] == 600
    assert 0.0 <= files["loader_share"] < 1.0 and mem["train_samples_per_s"] > 0
