"""Keys and exposure: secrets only where they belong and only for their owner; no silent open network port."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dexscrew_sdk import config
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.launcher import wait_node_ready
from tests.conftest import REFERENCE_CELL, free_base_port, start_node

pytestmark = pytest.mark.integration


def _sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_writes_owner_only_secrets_and_keeps_the_clients_secret_out_of_the_node_folder(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    done = subprocess.run(
        [sys.executable, "-m", "dexscrew_sdk.cli", "keygen", str(keys), "--nodes", "cell", "arm"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    node_dir, client_dir = keys / "node", keys / "client"
    secrets = sorted(keys.rglob("*.key_secret"))
    assert secrets and all(_mode(p) == 0o600 for p in secrets), [(p, oct(_mode(p))) for p in secrets]
    assert _mode(client_dir) == 0o700
    # the node's folder: its own key pairs, and only the PUBLIC key of the client it authorises
    assert sorted(p.name for p in (node_dir / "clients").iterdir()) == ["client.key"]
    assert not list(node_dir.rglob("client.key_secret"))
    # the client's folder: its own key pair and the nodes' public keys, no node secret
    assert sorted(p.name for p in client_dir.iterdir()) == ["arm.key", "cell.key", "client.key", "client.key_secret"]


def test_a_secret_key_others_can_read_is_refused_by_node_and_client(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "dexscrew_sdk.cli", "keygen", str(tmp_path), "--nodes", "cell"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    base = free_base_port()
    overrides = [f"nodes.cell.base_port={base}", f'cell.curve_dir="{tmp_path}"']
    client_secret = tmp_path / "client" / "client.key_secret"
    node = start_node(REFERENCE_CELL, "cell", overrides)
    try:
        os.chmod(client_secret, 0o644)
        with pytest.raises(ConfigError, match=r"client\.key_secret is readable by others \(mode 644\); run chmod 600"):
            Cell.connect(REFERENCE_CELL, overrides, connect_timeout_s=2.0)
        os.chmod(client_secret, 0o600)
        with Cell.connect(REFERENCE_CELL, overrides) as cell:  # Cell.connect reads the client folder
            assert cell.arm.state().q_rad.shape == (6,)
    finally:
        node.kill()
    os.chmod(tmp_path / "node" / "cell.key_secret", 0o640)
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(REFERENCE_CELL), "--name", "cell", *_sets(overrides)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "cell.key_secret is readable by others" in done.stderr


def test_a_node_refuses_a_network_address_without_curve_unless_told_it_is_insecure() -> None:
    base = free_base_port()
    overrides = [f"nodes.cell.base_port={base}", "cell.host=0.0.0.0"]
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(REFERENCE_CELL), "--name", "cell"]
    done = subprocess.run([*cmd, *_sets(overrides)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "without CURVE" in done.stderr and "insecure = true" in done.stderr
    assert "Traceback" not in done.stderr
    insecure = [*overrides, "cell.insecure=true"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([*cmd, *_sets(insecure)], stderr=log)
        try:
            wait_node_ready(config.load(REFERENCE_CELL, insecure), "cell", proc, 30.0)
            log.seek(0)
            assert "WITHOUT authentication or encryption" in log.read().decode()
        finally:
            proc.kill()
            proc.wait()
