"""`dexscrew train-bc` as users run it: Ctrl-C and resume, and the DDP path under torchrun (gloo, 2 processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from policies.bc import checkpoint
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dexscrew_sdk.cli", "train-bc", str(data), "--out", str(out), "--batch-size", "8",
            "--warmup-steps", "2", "--no-progress", "--no-tensorboard", "--threads", "1", *extra]  # fmt: skip


def test_ctrl_c_leaves_a_usable_checkpoint_and_the_run_resumes(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*_train_cmd(recorded, out, "--epochs", "100000", "--preset", "default"), "--workers", "1"],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        log = out / "log.jsonl"
        wait_until(lambda: log.is_file() and log.read_text().count("\n") >= 1, 120, "the first epoch")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        text, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, text
    assert "interrupted at epoch" in text and "continue with --resume" in text
    ck = checkpoint.load_raw(out / "checkpoint_last.pt")
    done = ck["training"]["step"]
    assert done >= 5 and ck["epoch"] >= 1
    checkpoint.load_policy(out / "checkpoint_last.pt")  # usable for deployment as it is
    res = subprocess.run(
        [*_train_cmd(recorded, out, "--epochs", "100000", "--preset", "default"), "--resume",
         "--max-steps", str(done + 3)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert f'"resumed_at": [{ck["epoch"]}, {ck["batch_in_epoch"]}]' in res.stdout
    assert checkpoint.load_raw(out / "checkpoint_last.pt")["training"]["step"] == done + 3


def test_ddp_on_cpu_with_gloo_and_two_processes(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *_train_cmd(recorded, out, "--epochs", "2", "--val-fraction", "0", "--workers", "0")[1:]]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert '"processes": 2' in res.stdout
    ck = checkpoint.load_raw(out / "checkpoint_last.pt")
    assert ck["run"]["world_size"] == 2
    # 2 episodes x 40 windows, split between 2 ranks of batch 8: 5 steps per epoch, both ranks in step
    assert ck["training"]["step"] == 10 and ck["training"]["skipped"] == 0
