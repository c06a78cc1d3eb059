"""`dexscrew bench bus`: the SDK's bus against bare pyzmq, measured in the same run.

- tactile pub/sub latency: a 5x120x3 float32 frame through the SDK (codec,
  validation, record conversion) vs the same bytes through bare PUB/SUB, publisher
  and subscriber in different processes, stamped with the host's monotonic clock;
- command round trip: hand target sent -> node applies it -> the state carrying
  that command's sequence number is received (node in its own process);
- the highest tactile rate at which a subscriber loses no frame;
- decode + validate cost of one received message, in process: a tactile frame
  (codec + record) and a hand command (codec + the hand's limit check).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq

from dexscrew_sdk import codec, joints, resources
from dexscrew_sdk.bus import Context, StateSubscriber, send
from dexscrew_sdk.codec import Message
from dexscrew_sdk.interfaces import xhand_limits
from dexscrew_sdk.messages import hand_command_message, message_to_tactile, state_topic, tactile_to_message
from dexscrew_sdk.ports import free_base_port, free_port
from dexscrew_sdk.records import TactileFrame

TOPIC = state_topic("tactile")
CTL = b"ctl"
_RAW = struct.Struct("<cqq")  # kind, seq, stamp_ns
RATES_HZ = (1000, 2000, 4000, 8000, 16000, 32000)
IDLE_LIMIT_S = 120.0  # a subscriber waits this long for its next phase before giving up


@dataclass
class PhaseResult:
    received: int
    gaps: int
    latencies_us: list[float]


def _ctl(event: str, detail: str = "") -> Message:
    return Message("node_event", 0, time.monotonic_ns(), {"event": event, "detail": detail})


def _pin(cpu: int) -> set[int] | None:
    """Pin this process to one CPU (publisher and subscriber on different cores, both modes alike)."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return before


# ---------------------------------------------------------------- subscribers
def _sdk_subscriber(endpoint: str, ready: Any, results: Any) -> None:
    _pin(1)
    ctx = Context()
    sub = StateSubscriber(ctx, endpoint, [TOPIC, CTL])
    ready.set()
    expected, phase = 0, None
    while True:
        got = sub.recv(IDLE_LIMIT_S)
        if got is None:
            break
        topic, msg = got
        if topic == CTL:
            event = msg.fields["event"]
            if event == "begin":
                expected, phase = 0, PhaseResult(0, 0, [])
            elif event == "end" and phase is not None:
                results.put((msg.fields["detail"], phase))
                phase = None  # report once; repeated end markers are ignored
            elif event == "quit":
                break
            continue
        if phase is None:
            continue  # a frame outside any phase
        frame: TactileFrame = message_to_tactile(msg)
        now = time.monotonic_ns()
        phase.latencies_us.append((now - frame.stamp_ns) / 1e3)
        phase.gaps += int(frame.seq != expected)
        expected = frame.seq + 1
        phase.received += 1
    ctx.close()


def _raw_subscriber(endpoint: str, ready: Any, results: Any) -> None:
    _pin(1)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    ready.set()
    expected, phase, name = 0, None, ""
    while sock.poll(int(IDLE_LIMIT_S * 1000)):
        data = sock.recv()
        kind, seq, stamp = _RAW.unpack_from(data)
        if kind == b"D" and phase is not None:
            now = time.monotonic_ns()
            np.frombuffer(data, dtype=np.float32, offset=_RAW.size).reshape(joints.TACTILE_SHAPE)  # as a user would
            phase.latencies_us.append((now - stamp) / 1e3)
            phase.gaps += int(seq != expected)
            expected = seq + 1
            phase.received += 1
        elif kind == b"B":
            expected, phase = 0, PhaseResult(0, 0, [])
            name = data[_RAW.size :].decode()
        elif kind == b"E" and phase is not None:
            results.put((name, phase))
            phase = None
        elif kind == b"Q":
            break
    ctx.destroy(linger=0)


# ---------------------------------------------------------------- publishers
class _Publisher:
    """Paces frames at a rate and sends them either through the SDK or bare pyzmq."""

    def __init__(self, sdk: bool, endpoint: str) -> None:
        self.sdk = sdk
        self.ctx = Context() if sdk else None
        self.zctx = self.ctx.zmq if self.ctx else zmq.Context()
        self.sock = self.zctx.socket(zmq.PUB)
        self.sock.sndhwm = 1000
        self.sock.linger = 0
        self.sock.bind(endpoint)
        rng = np.random.default_rng(0)
        self.force = rng.uniform(0.0, 2.0, joints.TACTILE_SHAPE).astype(np.float32)

    def control(self, event: str, detail: str = "") -> None:
        if self.sdk:
            send(self.sock, CTL, _ctl(event, detail))
        else:
            self.sock.send(_RAW.pack(event[0].upper().encode(), 0, 0) + detail.encode())

    def frame(self, seq: int) -> None:
        stamp = time.monotonic_ns()
        if self.sdk:
            send(self.sock, TOPIC, tactile_to_message(TactileFrame(seq, stamp, self.force)))
        else:
            self.sock.send(_RAW.pack(b"D", seq, stamp) + self.force.tobytes())

    def burst(self, rate_hz: float, count: int) -> float:
        """Send `count` frames paced at rate_hz; returns the achieved send rate."""
        period_ns = int(1e9 / rate_hz)
        start = time.monotonic_ns()
        for seq in range(count):
            deadline = start + seq * period_ns
            while time.monotonic_ns() < deadline:
                pass  # busy-wait: sleep granularity is coarser than these periods
            self.frame(seq)
        return count / ((time.monotonic_ns() - start) / 1e9)

    def close(self) -> None:
        self.sock.close(0)
        if self.ctx:
            self.ctx.close()
        else:
            self.zctx.destroy(linger=0)


def _run_phase(pub: _Publisher, results: Any, name: str, rate_hz: float, count: int) -> tuple[PhaseResult, float]:
    pub.control("begin", name)
    achieved = pub.burst(rate_hz, count)
    # A PUB socket drops what its high-water mark cannot hold, markers included: repeat the end
    # marker until the subscriber reports (it reports each phase once).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pub.control("end", name)
        try:
            got_name, result = results.get(timeout=0.2)
        except queue.Empty:
            continue
        if got_name != name:
            raise RuntimeError(f"bench protocol out of step: expected {name}, got {got_name}")
        return result, achieved
    raise RuntimeError(f"subscriber never reported phase {name}")


def _handshake(pub: _Publisher, results: Any) -> None:
    """Publish until the subscriber provably receives (PUB/SUB joins are asynchronous)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pub.control("begin", "handshake")
        pub.control("end", "handshake")
        try:
            results.get(timeout=0.1)
        except queue.Empty:
            continue
        while True:  # drop duplicate handshake replies
            try:
                results.get(timeout=0.2)
            except queue.Empty:
                return
    raise RuntimeError("subscriber never joined")


def pubsub(quick: bool) -> dict[str, Any]:
    mpc = mp.get_context("spawn")
    out: dict[str, Any] = {}
    latencies: dict[str, list[float]] = {"sdk": [], "raw": []}
    lossless: dict[str, float] = {"sdk": 0.0, "raw": 0.0}
    rounds, count = (1, 300) if quick else (3, 2000)
    rate_count_s = 0.3 if quick else 1.0
    pubs, procs, queues = {}, [], {}
    affinity = _pin(0)
    try:
        for mode, target in (("sdk", _sdk_subscriber), ("raw", _raw_subscriber)):
            endpoint = f"tcp://127.0.0.1:{free_port()}"
            pubs[mode] = _Publisher(mode == "sdk", endpoint)
            ready, queues[mode] = mpc.Event(), mpc.Queue()
            proc = mpc.Process(target=target, args=(endpoint, ready, queues[mode]), daemon=True)
            proc.start()
            procs.append(proc)
            if not ready.wait(30):
                raise RuntimeError(f"{mode} subscriber did not start")
            _handshake(pubs[mode], queues[mode])
        for _ in range(rounds):  # interleave so drift in machine load hits both equally
            for mode in ("raw", "sdk"):
                result, _ = _run_phase(pubs[mode], queues[mode], "latency", 1000, count)
                latencies[mode] += result.latencies_us
        for mode in ("raw", "sdk"):
            for rate in RATES_HZ:
                n = int(rate * rate_count_s)
                result, achieved = _run_phase(pubs[mode], queues[mode], f"rate{rate}", rate, n)
                if result.received != n or result.gaps:
                    break
                lossless[mode] = achieved
        for mode in ("sdk", "raw"):
            pubs[mode].control("quit")
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        for pub in pubs.values():
            pub.close()
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    sdk, raw = np.asarray(latencies["sdk"]), np.asarray(latencies["raw"])
    out["tactile_pubsub_p50_us"] = float(np.percentile(sdk, 50))
    out["tactile_pubsub_p99_us"] = float(np.percentile(sdk, 99))
    out["raw_zmq_p50_us"] = float(np.percentile(raw, 50))
    out["raw_zmq_p99_us"] = float(np.percentile(raw, 99))
    out["overhead_ratio_p50"] = out["tactile_pubsub_p50_us"] / out["raw_zmq_p50_us"]
    out["max_tactile_hz_lossless"] = lossless["sdk"]
    out["raw_max_tactile_hz_lossless"] = lossless["raw"]
    out["latency_samples"] = int(sdk.size)
    return out


def command_roundtrip(quick: bool) -> dict[str, Any]:
    from dexscrew_sdk.cell import Cell

    config = resources.config_path("reference_cell")
    port = free_base_port()
    overrides = [f"nodes.cell.base_port={port}", 'nodes.cell.serves=["hand"]']
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(config), "--name", "cell"]
    for o in overrides:
        cmd += ["--set", o]
    node = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        with Cell.connect(config, overrides) as cell:
            hand = cell.hand
            lo, hi = hand.limits.lower_rad, hand.limits.upper_rad
            n = 300 if quick else 3000
            rtt = np.empty(n)
            for i in range(n):
                q = lo + (hi - lo) * (0.25 + 0.5 * (i % 2))
                t0 = time.perf_counter_ns()
                seq = hand.command(q)
                hand.wait_applied(seq)
                rtt[i] = (time.perf_counter_ns() - t0) / 1e3
    finally:
        node.terminate()
        node.wait(10)
    return {
        "command_roundtrip_p50_us": float(np.percentile(rtt, 50)),
        "command_roundtrip_p99_us": float(np.percentile(rtt, 99)),
        "command_samples": n,
    }


def decode_validate(quick: bool) -> dict[str, Any]:
    """p50 of decoding and validating one received message, as a subscriber and the node do."""
    rng = np.random.default_rng(0)
    force = rng.normal(0, 1, joints.TACTILE_SHAPE).astype(np.float32)
    tactile = codec.encode(TOPIC, tactile_to_message(TactileFrame(1, time.monotonic_ns(), force)))
    limits = xhand_limits()
    q = (limits.lower_rad + limits.upper_rad) / 2
    command = codec.encode(b"hand", hand_command_message(q, None, None, 1))

    def tactile_path() -> None:
        message_to_tactile(codec.decode(tactile)[1])

    def command_path() -> None:
        limits.check_position(codec.decode(command)[1].arrays["q_rad"], "hand target")

    n = 2000 if quick else 20000
    p50_us: dict[str, float] = {}
    for key, fn in (("tactile_frame", tactile_path), ("hand_command", command_path)):
        for _ in range(200):  # warm up
            fn()
        t = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter_ns()
            fn()
            t[i] = time.perf_counter_ns() - t0
        p50_us[key] = float(np.percentile(t, 50)) / 1e3
    return {"decode_validate_us_p50": p50_us}


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    result: dict[str, Any] = {"bench": "bus", "quick": quick, "cpus": os.cpu_count()}
    result["load_avg_1m_before"] = os.getloadavg()[0]
    result.update(pubsub(quick))
    result.update(command_roundtrip(quick))
    result.update(decode_validate(quick))
    result["load_avg_1m_after"] = os.getloadavg()[0]
    result["targets_met"] = {
        "overhead_ratio_p50<=1.3": result["overhead_ratio_p50"] <= 1.3,
        "command_roundtrip_p99_us<=1000": result["command_roundtrip_p99_us"] <= 1000,
        "max_tactile_hz_lossless>=2000": result["max_tactile_hz_lossless"] >= 2000,
    }
    return result
