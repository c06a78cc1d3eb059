"""`dexscrew up`: supervision of node processes, restart after SIGKILL, clean Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading

import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import DeviceTimeoutError
from tests.conftest import REFERENCE_CELL, free_base_port, wait_until

pytestmark = pytest.mark.integration


class _Lines:
    """Collects a process's output lines on a thread so the test can wait for specific ones."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        threading.Thread(target=lambda: [self.q.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            while True:
                try:
                    self.seen.append(self.q.get_nowait())
                except queue.Empty:
                    break
            return next((m for line in self.seen if (m := re.search(pattern, line))), None)

        match = wait_until(found, timeout_s, f"{pattern!r} in launcher output: {self.seen}")
        self.seen = self.seen[self.seen.index(match.string) + 1 :]
        return match


def test_up_restarts_a_killed_node_and_stops_cleanly_on_ctrl_c() -> None:
    base = free_base_port()
    overrides = [f"nodes.cell.base_port={base}"]
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "up", str(REFERENCE_CELL), "--set", overrides[0]]
    launcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = _Lines(launcher)
    try:
        first_pid = int(lines.wait_for(r"node cell started pid=(\d+)", 30).group(1))
        lines.wait_for(r"cell reference ready", 30)
        with Cell.connect(REFERENCE_CELL, overrides) as cell:
            cell.arm.state()
            os.kill(first_pid, signal.SIGKILL)
            lines.wait_for(r"node cell exited \(signal SIGKILL\); restarting \(1/5\)", 5)
            with pytest.raises(DeviceTimeoutError):
                wait_until(lambda: cell.arm.state() is None, 2.0, "client to notice the dead node")
            second_pid = int(lines.wait_for(r"node cell started pid=(\d+)", 10).group(1))
            assert second_pid != first_pid
        with Cell.connect(REFERENCE_CELL, overrides) as cell:  # the restarted node serves again
            assert cell.arm.state().q_rad.shape == (6,)
        launcher.send_signal(signal.SIGINT)
        lines.wait_for(r"all nodes stopped", 15)
        assert launcher.wait(15) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(second_pid, 0)  # the node is gone too
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


def _alive(pid: int) -> bool:
    """True while pid exists and is not a zombie (an orphan's zombie is reaped by init, not by us)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_node_whose_launcher_is_killed_stops_by_itself() -> None:
    base = free_base_port()
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "up", str(REFERENCE_CELL), "--set", f"nodes.cell.base_port={base}"]
    launcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = _Lines(launcher)
    node_pid = None
    try:
        node_pid = int(lines.wait_for(r"node cell started pid=(\d+)", 30).group(1))
        lines.wait_for(r"cell reference ready", 30)
        launcher.kill()  # SIGKILL: no chance to stop its children
        launcher.wait()
        wait_until(lambda: not _alive(node_pid), 10.0, f"orphaned node {node_pid} to stop by itself")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        if node_pid is not None and _alive(node_pid):
            os.kill(node_pid, signal.SIGKILL)
