"""Bus monitor, like `ros2 topic hz` and `bw` for every stream of a running cell.

Per topic: message rate, latency from the producer's stamp to receipt, sequence
gaps, message size and bandwidth. The stamps are `time.monotonic_ns()` of the
publishing process, comparable only on the same host, so latency is reported
for nodes whose endpoint is an address of this machine and is "n/a" otherwise.
One SUB socket per node, all read together; the raw frames are measured before
they are decoded and validated (undecodable messages are counted per node).

`dexscrew bus-monitor CONFIG` refreshes a table until Ctrl-C;
`--duration S --json` listens S seconds and prints one JSON report.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import json
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import zmq

from dexscrew_sdk import codec
from dexscrew_sdk.bus import NOBLOCK, Context, recv_frames
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import CodecError, DexscrewError
from dexscrew_sdk.remote import NodeClient

WINDOW_S = 2.0  # the live table's rates and bandwidths cover the last WINDOW_S seconds
LATENCY_SAMPLES = 5000


@functools.cache
def is_local_host(host: str) -> bool:
    """True when `host` is this machine (loopback or one of its own addresses): same monotonic clock."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    for addr in addresses:
        if ipaddress.ip_address(addr).is_loopback:
            return True
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.bind((addr, 0))  # only an address of this machine can be bound
                return True
            except OSError:
                continue
    return False


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class TopicStats:
    """Counters of one topic of one node."""

    same_host: bool
    messages: int = 0
    bytes_total: int = 0
    size_max_bytes: int = 0
    seq_gaps: int = 0  # places where sequence numbers jumped forward
    seq_missing: int = 0  # messages those jumps skipped
    seq_restarts: int = 0  # the sequence went backwards (the node restarted)
    first_s: float = 0.0
    last_s: float = 0.0
    last_seq: int | None = None
    latencies_us: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (receipt time, bytes) in the window

    def add(self, seq: int, stamp_ns: int, size: int, received_ns: int) -> None:
        now = received_ns / 1e9
        if self.messages == 0:
            self.first_s = now
        if self.last_seq is not None:
            if seq > self.last_seq + 1:
                self.seq_gaps += 1
                self.seq_missing += seq - self.last_seq - 1
            elif seq <= self.last_seq:
                self.seq_restarts += 1
        self.messages += 1
        self.bytes_total += size
        self.size_max_bytes = max(self.size_max_bytes, size)
        self.last_seq, self.last_s = seq, now
        if self.same_host:
            self.latencies_us.append((received_ns - stamp_ns) / 1e3)
        self.recent.append((now, size))
        while self.recent and self.recent[0][0] < now - WINDOW_S:
            self.recent.popleft()

    def summary(self, windowed: bool = False) -> dict[str, Any]:
        if windowed and len(self.recent) > 1:
            span, count = self.recent[-1][0] - self.recent[0][0], len(self.recent)
            nbytes = sum(b for _, b in self.recent)
        else:
            span, count, nbytes = self.last_s - self.first_s, self.messages, self.bytes_total
        rate = (count - 1) / span if span > 0 else 0.0
        lat = list(self.latencies_us)
        latency: dict[str, Any]
        if not self.same_host:
            latency = {"latency_p50_us": "n/a", "latency_p99_us": "n/a", "latency_max_us": "n/a"}
        else:
            latency = {
                "latency_p50_us": _round(_percentile(lat, 0.5)),
                "latency_p99_us": _round(_percentile(lat, 0.99)),
                "latency_max_us": _round(max(lat) if lat else None),
            }
        return {
            "messages": self.messages,
            "rate_hz": round(rate, 1),
            **latency,
            "seq_gaps": self.seq_gaps,
            "seq_missing": self.seq_missing,
            "seq_restarts": self.seq_restarts,
            "size_mean_bytes": round(self.bytes_total / self.messages, 1) if self.messages else 0,
            "size_max_bytes": self.size_max_bytes,
            "bandwidth_kib_s": round(nbytes / span / 1024, 2) if span > 0 else 0.0,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


@dataclass
class NodeWatch:
    name: str
    host: str
    sock: zmq.Socket
    topics: dict[str, TopicStats] = field(default_factory=dict)
    undecodable: int = 0
    events: deque[str] = field(default_factory=lambda: deque(maxlen=20))


class BusMonitor:
    """Subscribes to every node of a cell at once; `poll` reads what arrived."""

    def __init__(self, cfg: CellConfig) -> None:
        self.cfg = cfg
        self.contexts: list[Context] = []
        self.nodes: list[NodeWatch] = []
        self.poller = zmq.Poller()
        for name in cfg.nodes:
            ctx = Context(cfg.client_curve(name))
            sock = ctx.socket(zmq.SUB, server=False)
            sock.rcvhwm = 10000
            sock.setsockopt(zmq.SUBSCRIBE, b"")  # every topic, the node's events included
            sock.connect(cfg.endpoints(name).state)
            self.contexts.append(ctx)
            self.nodes.append(NodeWatch(name, cfg.host, sock))
            self.poller.register(sock, zmq.POLLIN)
        self.started_s = time.monotonic()

    def poll(self, timeout_s: float) -> int:
        """Read everything that arrives within timeout_s; returns the number of messages."""
        n = 0
        ready = dict(self.poller.poll(max(0, int(timeout_s * 1000))))
        for watch in self.nodes:
            if watch.sock not in ready:
                continue
            while True:
                try:
                    frames = recv_frames(watch.sock, NOBLOCK)
                except zmq.Again:
                    break
                received_ns = time.monotonic_ns()
                n += 1
                self._accept(watch, frames, received_ns)
        return n

    def _accept(self, watch: NodeWatch, frames: list[bytes], received_ns: int) -> None:
        try:
            topic, msg = codec.decode(frames)
        except CodecError:
            watch.undecodable += 1
            return
        name = topic.decode(errors="replace")
        if msg.type == "node_event":
            watch.events.append(f"{msg.fields.get('event')}: {msg.fields.get('detail')}")
        stats = watch.topics.get(name)
        if stats is None:
            stats = watch.topics[name] = TopicStats(is_local_host(watch.host))
        stats.add(msg.seq, msg.stamp_ns, sum(len(f) for f in frames), received_ns)

    def run(self, duration_s: float, on_refresh: Callable[[], None] | None = None, refresh_s: float = 0.5) -> None:
        deadline = time.monotonic() + duration_s
        next_refresh = time.monotonic() + refresh_s
        while (remaining := deadline - time.monotonic()) > 0:
            self.poll(min(remaining, 0.05))
            if on_refresh is not None and time.monotonic() >= next_refresh:
                on_refresh()
                next_refresh += refresh_s

    def report(self, windowed: bool = False, node_stats: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"listened_s": round(time.monotonic() - self.started_s, 2), "nodes": {}}
        for watch in self.nodes:
            entry: dict[str, Any] = {
                "endpoint": self.cfg.endpoints(watch.name).state,
                "same_host": is_local_host(watch.host),
                "topics": {t: s.summary(windowed) for t, s in sorted(watch.topics.items())},
                "undecodable_messages": watch.undecodable,
                "events": list(watch.events),
            }
            if node_stats:
                entry["node_stats"] = self._node_stats(watch.name)
            out["nodes"][watch.name] = entry
        return out

    def _node_stats(self, name: str) -> dict[str, Any]:
        client = NodeClient(self.cfg.endpoints(name), [], curve=self.cfg.client_curve(name))
        try:
            return dict(client.call("", "stats", timeout_s=1.0))
        except DexscrewError as exc:  # a silent node is a finding, not a crash of the monitor
            return {"error": str(exc)}
        finally:
            client.close()

    def close(self) -> None:
        for watch in self.nodes:
            watch.sock.close(0)
        for ctx in self.contexts:
            ctx.close()


COLUMNS = (
    ("topic", 26, "topic"),
    ("rate Hz", 9, "rate_hz"),
    ("lat p50 us", 11, "latency_p50_us"),
    ("lat p99 us", 11, "latency_p99_us"),
    ("gaps", 6, "seq_gaps"),
    ("missing", 8, "seq_missing"),
    ("size B", 8, "size_mean_bytes"),
    ("KiB/s", 9, "bandwidth_kib_s"),
)


def format_table(report: dict[str, Any]) -> str:
    """The live table: one line per node and topic."""
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w, _) in enumerate(COLUMNS))]
    for node, entry in report["nodes"].items():
        if not entry["topics"]:
            lines.append(f"{node}: nothing received from {entry['endpoint']}")
        for topic, s in entry["topics"].items():
            row = {**s, "topic": f"{node}:{topic}"}
            cells = [str(row[key] if row[key] is not None else "-") for _, _, key in COLUMNS]
            lines.append(
                "  ".join(
                    c.rjust(w) if i else c.ljust(w)[:w]
                    for i, (c, (_, w, _)) in enumerate(zip(cells, COLUMNS, strict=True))
                )
            )
        if entry["undecodable_messages"]:
            lines.append(f"{node}: {entry['undecodable_messages']} undecodable messages")
    return "\n".join(lines)


def live(cfg: CellConfig, out: TextIO = sys.stdout, refresh_s: float = 0.5, duration_s: float = float("inf")) -> None:
    """Refresh the table in place until Ctrl-C (or duration_s)."""
    monitor = BusMonitor(cfg)

    def draw() -> None:
        table = format_table(monitor.report(windowed=True, node_stats=False))
        out.write("\x1b[H\x1b[2J" + f"dexscrew bus-monitor {cfg.name}  (last {WINDOW_S:.0f} s, Ctrl-C to stop)\n")
        out.write(table + "\n")
        out.flush()

    try:
        monitor.run(duration_s, draw, refresh_s)
    except KeyboardInterrupt:
        pass
    finally:
        monitor.close()


def one_shot(cfg: CellConfig, duration_s: float) -> dict[str, Any]:
    monitor = BusMonitor(cfg)
    try:
        monitor.run(duration_s)
        return monitor.report()
    finally:
        monitor.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=None, help="listen this many seconds, then print a JSON report")
    p.add_argument("--json", action="store_true", help="one-shot JSON report (default duration 3 s)")
    p.add_argument("--refresh", type=float, default=0.5, help="live table refresh period [s]")


def run(args: argparse.Namespace) -> int:
    from dexscrew_sdk import config

    cfg = config.load(args.config, args.overrides)
    if args.json or args.duration is not None:
        duration = 3.0 if args.duration is None else args.duration
        if not duration > 0:
            raise DexscrewError(f"--duration must be positive, got {duration}")
        print(json.dumps(one_shot(cfg, duration)))
    else:
        live(cfg, refresh_s=args.refresh)
    return 0


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("bus-monitor", argv)


if __name__ == "__main__":
    sys.exit(main())
