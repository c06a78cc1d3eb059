"""Bus monitor against real nodes on loopback: rates, latency, sequence gaps, sizes, bandwidth."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from dexscrew_sdk import codec, config, joints
from dexscrew_sdk.bus import Endpoints, send
from dexscrew_sdk.messages import tactile_to_message
from dexscrew_sdk.ports import free_base_port
from dexscrew_sdk.records import TactileFrame
from tests.conftest import REPO, NodeProcess, wait_until
from tools import bus_monitor

pytestmark = pytest.mark.integration


def test_one_shot_report_of_a_running_node(reference_node: NodeProcess) -> None:
    cfg = config.load(reference_node.config, reference_node.overrides)
    report = bus_monitor.one_shot(cfg, duration_s=1.0)
    node = report["nodes"]["cell"]
    assert node["same_host"] and node["undecodable_messages"] == 0
    assert node["node_stats"]["published"] > 0
    for device in ("arm", "hand", "tactile"):
        s = node["topics"][f"{device}/state"]
        assert s["messages"] > 40 and s["rate_hz"] > 50  # published at 200 Hz; generous for a loaded machine
        assert s["seq_gaps"] == 0 and s["seq_missing"] == 0
        assert 0 < s["latency_p50_us"] <= s["latency_p99_us"] < 1e6
        assert s["bandwidth_kib_s"] == pytest.approx(s["rate_hz"] * s["size_mean_bytes"] / 1024, rel=0.1)
    tactile = node["topics"]["tactile/state"]
    assert joints.TACTILE_SHAPE[0] * 120 * 3 * 4 < tactile["size_mean_bytes"] < 8000  # 7.2 kB of float32 + header


def _publisher(base_port: int) -> tuple[zmq.Context, zmq.Socket]:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(Endpoints("127.0.0.1", base_port).state)
    return ctx, pub


def _config(tmp_path: Path, base_port: int, host: str = "127.0.0.1") -> config.CellConfig:
    text = (
        f'[cell]\nname = "probe"\nhost = "{host}"\n[nodes.probe]\nfactory = "reference"\n'
        f'base_port = {base_port}\nserves = ["tactile"]\n'
    )
    path = tmp_path / "probe.toml"
    path.write_text(text)
    return config.load(path)


def test_sequence_gaps_restarts_and_garbage_are_counted(tmp_path: Path) -> None:
    base = free_base_port()
    ctx, pub = _publisher(base)
    monitor = bus_monitor.BusMonitor(_config(tmp_path, base))
    try:
        force = np.zeros(joints.TACTILE_SHAPE, np.float32)

        def publish(seq: int) -> None:
            send(pub, b"tactile/state", tactile_to_message(TactileFrame(seq, time.monotonic_ns(), force)))

        # the subscription takes a moment to reach the publisher: wait until a message gets through
        wait_until(lambda: (publish(0), monitor.poll(0.05))[1] > 0, 10.0, "the monitor to subscribe")
        for seq in [1, 2, 5, 6, 10, 3, 4]:  # two gaps (2 + 3 missing), then a restart
            publish(seq)
        pub.send(b"tactile/state\x00not msgpack")
        wait_until(lambda: monitor.poll(0.05) >= 0 and monitor.nodes[0].undecodable == 1, 5.0, "the garbage")
        s = monitor.report(node_stats=False)["nodes"]["probe"]["topics"]["tactile/state"]
        assert (s["seq_gaps"], s["seq_missing"], s["seq_restarts"]) == (2, 5, 1)
        assert s["size_max_bytes"] == len(
            codec.encode(b"tactile/state", tactile_to_message(TactileFrame(1, 1, force)))[0]
        )
    finally:
        monitor.close()
        pub.close(0)
        ctx.term()


def test_latency_is_not_computed_for_another_host() -> None:
    assert bus_monitor.is_local_host("127.0.0.1") and bus_monitor.is_local_host("localhost")
    assert not bus_monitor.is_local_host("192.0.2.7")  # TEST-NET-1: never this machine's address
    stats = bus_monitor.TopicStats(same_host=False)
    stats.add(1, 5, 100, time.monotonic_ns())
    stats.add(2, 6, 100, time.monotonic_ns())
    assert stats.summary()["latency_p50_us"] == "n/a" and stats.summary()["latency_p99_us"] == "n/a"


def test_live_table_refreshes_with_every_stream(reference_node: NodeProcess) -> None:
    cfg = config.load(reference_node.config, reference_node.overrides)
    out = io.StringIO()
    bus_monitor.live(cfg, out=out, refresh_s=0.2, duration_s=1.0)
    screens = out.getvalue().split("\x1b[H\x1b[2J")[1:]
    assert len(screens) >= 3
    last = screens[-1]
    for device in ("arm", "hand", "tactile"):
        assert f"cell:{device}/state" in last
    assert "rate Hz" in last and "KiB/s" in last


def test_module_runs_as_a_program_and_prints_json(reference_node: NodeProcess) -> None:
    cmd = [sys.executable, "-m", "tools.bus_monitor", str(reference_node.config), "--json"]
    for o in reference_node.overrides:
        cmd += ["--set", o]
    done = subprocess.run([*cmd, "--duration", "0.5"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["nodes"]["cell"]["topics"]["hand/state"]["messages"] > 10
    bad = subprocess.run([*cmd, "--duration", "-1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--duration must be positive" in bad.stderr
