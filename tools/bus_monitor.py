"""Bus monitor: rates, sequence gaps and counters of every stream of a running cell."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dexscrew_sdk import config as config_mod
from dexscrew_sdk.bus import Context, StateSubscriber
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.messages import state_topic
from dexscrew_sdk.remote import NodeClient


@dataclass
class StreamStats:
    messages: int = 0
    gaps: int = 0
    last_seq: int | None = None
    first_s: float = 0.0
    last_s: float = 0.0
    latencies_us: list[float] = field(default_factory=list)

    def add(self, seq: int, stamp_ns: int) -> None:
        now = time.monotonic()
        if self.last_seq is not None and seq != self.last_seq + 1:
            self.gaps += 1
        if self.messages == 0:
            self.first_s = now
        self.messages += 1
        self.last_seq, self.last_s = seq, now
        self.latencies_us.append((time.monotonic_ns() - stamp_ns) / 1e3)  # same host only

    def summary(self) -> dict[str, Any]:
        span = self.last_s - self.first_s
        lat = sorted(self.latencies_us)
        return {
            "messages": self.messages,
            "rate_hz": round((self.messages - 1) / span, 1) if span > 0 else 0.0,
            "seq_gaps": self.gaps,
            "latency_p50_us": round(lat[len(lat) // 2], 1) if lat else None,
        }


def monitor(cfg: CellConfig, duration_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in cfg.nodes.items():
        ctx = Context(cfg.client_curve(name))
        topics = [state_topic(d) for d in spec.serves] + [f"{name}/event".encode()]
        sub = StateSubscriber(ctx, cfg.endpoints(name).state, topics)
        streams: dict[bytes, StreamStats] = {}
        events: list[str] = []
        deadline = time.monotonic() + duration_s
        while (remaining := deadline - time.monotonic()) > 0:
            got = sub.recv(remaining)
            if got is None:
                break
            topic, msg = got
            if msg.type == "node_event":
                events.append(f"{msg.fields['event']}: {msg.fields['detail']}")
            else:
                streams.setdefault(topic, StreamStats()).add(msg.seq, msg.stamp_ns)
        client = NodeClient(cfg.endpoints(name), [], ctx=ctx)
        try:
            stats = client.call("", "stats", timeout_s=1.0)
        except Exception as exc:  # report, keep monitoring the other nodes
            stats = {"error": str(exc)}
        client.close()
        sub.close()
        ctx.close()
        out[name] = {
            "streams": {t.decode(): s.summary() for t, s in streams.items()},
            "undecodable_messages": sub.rejected,
            "events": events[-20:],
            "node_stats": stats,
        }
    return out


def load(path: str, overrides: list[str]) -> CellConfig:
    return config_mod.load(path, overrides)
