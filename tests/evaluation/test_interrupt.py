"""Ctrl-C on `dexscrew eval`: it stops its workers and their twin nodes, keeps finished trials, and resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def eval_cmd(out: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "dexscrew_sdk.cli", "eval", "--methods", "direct_sim2real", "--objects", "square",
            "--trials", str(trials), "--max-time", "nut=1.5", "--workers", "1", "--out", str(out)]  # fmt: skip


def _sigint_as_in_a_terminal() -> None:
    """A child started from a shell's background job inherits SIGINT ignored; a terminal's Ctrl-C is not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.timeout(900)
def test_ctrl_c_stops_every_node_keeps_finished_trials_and_a_rerun_does_only_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "trials.jsonl"
    proc = subprocess.Popen(eval_cmd(tmp_path, 40), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_sigint_as_in_a_terminal)  # fmt: skip
    try:
        wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, 240, "two finished trials")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    node_pids = [
        int(p) for p in re.findall(r"node twin started pid=(\d+)", (tmp_path / "logs" / "worker0.log").read_text())
    ]
    assert node_pids and not [p for p in node_pids if alive(p)]  # no twin node left behind
    kept = [json.loads(line)["key"] for line in log.read_text().splitlines()]
    assert len(kept) >= 2 and len(kept) < 40
    done = subprocess.run(eval_cmd(tmp_path, len(kept) + 1), capture_output=True, text=True, timeout=300, check=True)
    keys = [json.loads(line)["key"] for line in log.read_text().splitlines()]
    assert keys[: len(kept)] == kept and len(keys) == len(kept) + 1  # only the one new trial ran
    assert '"progress.direct_sim2real.square"' in done.stdout.splitlines()[-1]
