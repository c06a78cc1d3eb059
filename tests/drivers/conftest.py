"""Fixtures of the driver tests: the UR controller emulator as a separate process.

ur_rtde's RTDE port (30004) is fixed in the client, so at most one emulator runs
at a time: the fixture is module-scoped and the emulator itself waits for the
ports to be free before binding.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from twins.ur_emulator.spawn import spawn_emulator

FAKE_XHAND = Path(__file__).resolve().parent / "fake_xhand"


@dataclass
class EmulatorProcess:
    """One `python -m twins.ur_emulator` child; tests end it by its pid only."""

    proc: subprocess.Popen[str] | None = None
    started: list[int] = field(default_factory=list)

    def start(self, timeout_s: float = 20.0) -> None:
        self.proc = spawn_emulator(timeout_s=timeout_s)
        self.started.append(self.proc.pid)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def fake_xhand(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The fake vendor SDK on sys.path, with its simulated device state reset."""
    monkeypatch.syspath_prepend(str(FAKE_XHAND))
    import xhand_controller.xhand_control as sdk

    sdk.reset_fake()
    yield sdk
    sdk.reset_fake()
