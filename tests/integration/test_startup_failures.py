"""Start-up failures end with the node's own message and a non-zero exit, never a traceback or a false "ready"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_CELL, free_base_port, start_node

pytestmark = pytest.mark.integration


def _dexscrew(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dexscrew_sdk.cli", *args], capture_output=True, text=True,
                          timeout=timeout_s)  # fmt: skip


def test_up_on_ports_another_cell_holds_never_says_ready_and_reports_the_bind_failure() -> None:
    base = free_base_port()
    other = start_node(REFERENCE_CELL, "cell", [f"nodes.cell.base_port={base}"])
    try:
        done = _dexscrew("up", str(REFERENCE_CELL), "--set", f"nodes.cell.base_port={base}")
        assert done.returncode != 0
        assert "ready" not in done.stdout, done.stdout
        assert "cannot bind" in done.stderr and "another process" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert other.proc.poll() is None  # the other cell is untouched
    finally:
        other.kill()


def test_a_node_failing_at_start_up_ends_up_with_its_own_message_and_no_traceback() -> None:
    base = free_base_port()
    done = _dexscrew("up", str(REFERENCE_CELL), "--set", f"nodes.cell.base_port={base}",
                     "--set", 'nodes.cell.factory="tests.integration.factories:make_failing"',
                     "--set", "nodes.cell.params={}")  # fmt: skip
    assert done.returncode == 2
    assert "NodeExitedError: node cell exited with code 2 during start-up" in done.stderr, done.stderr
    assert "the test hand is unplugged: check its USB cable" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--set", "cell.host=127"], "cell.host must be a string, got 127"),
        (["--set", "nodes.cell.watchdog=0.05"], "unknown key ['watchdog']"),
        (["--set", "nodes.cell.serves=[1, 2]"], "nodes.cell.serves[0] must be a string, got 1"),
        (["--set", "nodes.cell.max_restarts=-1"], "max_restarts must be in [0, 1000], got -1"),
        (["--set", "nodes.cell.params.sed=1"], "nodes.cell.params: unknown key ['sed']"),
        (["--set", 'nodes.cell.factory="tests.integration.factories:make_untyped"'], "P a dataclass"),
    ],
)
def test_bad_configuration_on_the_command_line_is_one_clean_error(args: list[str], needle: str) -> None:
    base = free_base_port()
    done = _dexscrew("up", str(REFERENCE_CELL), "--set", f"nodes.cell.base_port={base}", *args)
    assert done.returncode == 2, done
    assert needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "started pid" not in done.stdout  # refused before anything was spawned


def test_a_directory_or_a_binary_file_as_configuration_is_one_clean_error(tmp_path: Path) -> None:
    binary = tmp_path / "cell.toml"
    binary.write_bytes(bytes(range(256)))
    for target, needle in ((tmp_path, "is a directory"), (binary, "not a text (UTF-8 TOML) file")):
        done = _dexscrew("up", str(target))
        assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
