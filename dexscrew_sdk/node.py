"""A node process serves one or more devices over the bus.

The node owns the devices. Its single-threaded loop polls the command and RPC
sockets, advances a hosted simulation (by wall time, or one control period per
`tick` in lockstep), runs the command watchdog and publishes states. A command
is published back at once with its sequence number (``cmd_seq``) so clients can
measure and wait on end-to-end application.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from dexscrew_sdk import codec
from dexscrew_sdk.bus import NOBLOCK, Context, CurveKeys, Endpoints, recv_frames, send
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import CodecError, CommandRejected, DeviceTimeoutError, DexscrewError
from dexscrew_sdk.interfaces import Arm, Device, Hand, Simulated, TactileSensor, World
from dexscrew_sdk.messages import STATE_ENCODERS, state_topic

log = logging.getLogger(__name__)


@dataclass
class Hosted:
    """What a device factory returns: named devices, and the simulation behind them if any."""

    devices: dict[str, Device]
    sim: Simulated | None = None


@dataclass
class NodeOptions:
    name: str
    endpoints: Endpoints = field(default_factory=Endpoints)
    publish_hz: float = 100.0
    watchdog_s: float = 0.2
    lockstep: bool = False
    curve: CurveKeys | None = None


@dataclass
class NodeStats:
    received: int = 0
    applied: int = 0
    rejected: int = 0
    superseded: int = 0  # valid streaming commands replaced by a newer one before being applied
    watchdog_stops: int = 0
    published: int = 0
    last_error: str = ""


@dataclass
class _Pending:
    """An RPC whose reply waits for a condition (a move finishing)."""

    identity: bytes
    request_id: int
    done: Callable[[], bool]
    deadline: float
    what: str
    worker: threading.Thread | None = None
    error: list[BaseException] = field(default_factory=list)


class Node:
    def __init__(self, hosted: Hosted, options: NodeOptions) -> None:
        if options.lockstep and hosted.sim is None:
            raise ValueError(f"node {options.name}: lockstep needs a simulated device")
        self.hosted = hosted
        self.devices = hosted.devices
        self.options = options
        self.stats = NodeStats()
        self._stop = threading.Event()
        self._ctx = Context(options.curve, server=True)
        ep = options.endpoints
        self._pub = self._ctx.socket(zmq.PUB, server=True)
        self._pub.sndhwm = 1000
        self._pub.bind(ep.state)
        self._cmd = self._ctx.socket(zmq.PULL, server=True)
        self._cmd.rcvhwm = 256
        self._cmd.bind(ep.command)
        self._rpc = self._ctx.socket(zmq.ROUTER, server=True)
        self._rpc.bind(ep.rpc)
        self._topics = {name: state_topic(name) for name in self.devices}
        self._event_topic = f"{options.name}/event".encode()
        self._streaming: dict[str, float] = {}  # device -> time of its last streaming command
        self._busy: dict[str, _Pending] = {}
        self._sim_time_s = 0.0
        self._last_seq: dict[str, int] = {}
        self._received_seq: dict[str, int] = {}  # newest command seq seen per device, applied or not
        self._handlers = self._rpc_table()

    # ---------------------------------------------------------------- lifecycle
    def request_stop(self) -> None:
        self._stop.set()

    def serve_forever(self) -> None:
        for dev in self.devices.values():
            dev.connect()
        poller = zmq.Poller()
        poller.register(self._cmd, zmq.POLLIN)
        poller.register(self._rpc, zmq.POLLIN)
        period = 1.0 / self.options.publish_hz
        next_pub = time.monotonic()
        last_advance = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                timeout_ms = max(0.0, min(next_pub - now, 0.005 if self._realtime_sim else 0.05)) * 1000
                events = dict(poller.poll(timeout_ms))
                if self._cmd in events:
                    self._handle_commands()
                if self._rpc in events:
                    self._handle_rpc()
                now = time.monotonic()
                if self._realtime_sim and now - last_advance >= 0.001:
                    self._advance(now - last_advance)
                    last_advance = now
                self._check_watchdog()
                self._finish_pending()
                if now >= next_pub:
                    self._publish_all()
                    next_pub = max(next_pub + period, now)  # never burst to catch up
        finally:
            self._shutdown()

    @property
    def _realtime_sim(self) -> bool:
        return self.hosted.sim is not None and not self.options.lockstep

    def _shutdown(self) -> None:
        for name, dev in self.devices.items():
            try:
                if isinstance(dev, (Arm, Hand)):
                    dev.stop()
                dev.close()
            except Exception as exc:  # keep closing the others
                log.warning("closing %s failed: %s", name, exc)
        self._ctx.close()

    def _now(self) -> float:
        return self._sim_time_s if self.options.lockstep else time.monotonic()

    def _advance(self, dt_s: float) -> None:
        assert self.hosted.sim is not None
        self.hosted.sim.advance(dt_s)
        self._sim_time_s += dt_s

    # ---------------------------------------------------------------- commands
    def _handle_commands(self) -> None:
        newest: dict[bytes, Message] = {}
        while True:
            try:
                frames = recv_frames(self._cmd, NOBLOCK)
            except zmq.Again:
                break
            self.stats.received += 1
            try:
                topic, msg = codec.decode(frames)
            except CodecError as exc:
                self._reject(f"malformed command: {exc}")
                continue
            if topic in newest:
                self.stats.superseded += 1
            newest[topic] = msg  # newest wins per device
        for topic, msg in newest.items():
            self._apply_command(topic, msg)

    def _apply_command(self, topic: bytes, msg: Message) -> None:
        name = topic.decode(errors="replace")
        dev = self.devices.get(name)
        if dev is not None:
            self._received_seq[name] = max(self._received_seq.get(name, -1), msg.seq)
        try:
            if name in self._busy:
                raise CommandRejected(f"{name} is executing {self._busy[name].what}")
            if isinstance(dev, Arm) and msg.type == "arm_servo":
                dev.servo(msg.arrays["q_rad"], seq=msg.seq)
            elif isinstance(dev, Hand) and msg.type == "hand_command":
                a = msg.arrays
                dev.command(a["q_rad"], kp=a.get("kp"), kd=a.get("kd"), seq=msg.seq)
            else:
                raise CommandRejected(f"no device {name!r} accepting {msg.type!r} on node {self.options.name}")
        except DexscrewError as exc:
            self._reject(str(exc))
            return
        self.stats.applied += 1
        self._streaming[name] = self._now()
        self._publish(name)

    def _reject(self, why: str) -> None:
        self.stats.rejected += 1
        self.stats.last_error = why
        log.warning("%s: %s", self.options.name, why)
        send(
            self._pub,
            self._event_topic,
            Message("node_event", self.stats.rejected, time.monotonic_ns(), {"event": "rejected", "detail": why[:500]}),
        )

    def _check_watchdog(self) -> None:
        now = self._now()
        for name, last in list(self._streaming.items()):
            if now - last > self.options.watchdog_s:
                del self._streaming[name]
                dev = self.devices[name]
                assert isinstance(dev, (Arm, Hand))
                dev.stop()
                self.stats.watchdog_stops += 1
                send(
                    self._pub,
                    self._event_topic,
                    Message(
                        "node_event",
                        self.stats.watchdog_stops,
                        time.monotonic_ns(),
                        {"event": "watchdog", "detail": name},
                    ),
                )

    # ---------------------------------------------------------------- states
    def _publish_all(self) -> None:
        for name in self.devices:
            self._publish(name)

    def _publish(self, name: str) -> None:
        dev = self.devices[name]
        if isinstance(dev, (Arm, Hand)):
            sample: Any = dev.state()
        elif isinstance(dev, TactileSensor):
            sample = dev.frame()
        else:
            return
        send(self._pub, self._topics[name], STATE_ENCODERS[type(sample)](sample))
        self._last_seq[name] = sample.seq
        self.stats.published += 1

    # ---------------------------------------------------------------- rpc
    def _handle_rpc(self) -> None:
        while True:
            try:
                frames = recv_frames(self._rpc, NOBLOCK)
            except zmq.Again:
                break
            identity, body = frames[0], frames[1:]
            try:
                _, msg = codec.decode(body)
                if msg.type != "rpc_request":
                    raise CodecError(f"expected rpc_request, got {msg.type}")
            except CodecError as exc:
                self._reject(f"malformed rpc: {exc}")
                continue
            self._dispatch(identity, msg)

    def _dispatch(self, identity: bytes, msg: Message) -> None:
        device, method, args = msg.fields["device"], msg.fields["method"], msg.fields["args"]
        entry = self._handlers.get(method)
        try:
            if entry is None:
                raise CommandRejected(f"unknown rpc method {method!r}; known: {sorted(self._handlers)}")
            kinds, handler = entry
            dev = self.devices.get(device) if device else None
            if kinds and not isinstance(dev, kinds):
                raise CommandRejected(
                    f"{method!r} needs a device of kind {[k.kind for k in kinds]}, "
                    f"node {self.options.name} has {device!r} ({sorted(self.devices)})"
                )
            result = handler(dev, args, identity, msg.seq)
            # a tick advances, and a world call (reset, perturb) rebuilds or moves, every device of the cell
            whole_cell = method == "tick" or isinstance(dev, World)
            publish = list(self.devices) if whole_cell else [device] if device in self.devices else []
        except Exception as exc:  # a failing call must never take the node down
            if not isinstance(exc, (DexscrewError, TypeError, ValueError, KeyError)):
                log.exception("%s.%s failed", device, method)
            self._reply(identity, msg.seq, ok=False, error_kind=type(exc).__name__, error=str(exc))
            return
        if result is not _DEFERRED:
            self._reply(identity, msg.seq, ok=True, result=result, publish=publish)

    def _reply(
        self,
        identity: bytes,
        request_id: int,
        ok: bool,
        result: Any = None,
        error_kind: str = "",
        error: str = "",
        publish: list[str] | None = None,
    ) -> None:
        """Publish the states the call changed first, and name them, so the caller can wait for them."""
        published: dict[str, int] = {}
        for name in publish or []:
            self._publish(name)
            if name in self._last_seq:
                published[name] = self._last_seq[name]
        fields = {"ok": ok, "result": result, "error_kind": error_kind, "error": error, "published": published}
        frames = codec.encode(b"rpc", Message("rpc_reply", request_id, time.monotonic_ns(), fields))
        self._rpc.send_multipart([identity, *frames])

    def _finish_pending(self) -> None:
        for name, p in list(self._busy.items()):
            if p.error:
                del self._busy[name]
                exc = p.error[0]
                self._reply(p.identity, p.request_id, ok=False, error_kind=type(exc).__name__, error=str(exc))
            elif p.done():
                del self._busy[name]
                self._reply(p.identity, p.request_id, ok=True, publish=[name])
            elif time.monotonic() > p.deadline:
                del self._busy[name]
                dev = self.devices[name]
                assert isinstance(dev, Arm)
                dev.stop()
                self._reply(
                    p.identity,
                    p.request_id,
                    ok=False,
                    error_kind="DeviceTimeoutError",
                    error=f"{p.what} did not finish in time; arm stopped",
                )

    def _rpc_table(self) -> dict[str, tuple[tuple[type, ...], Callable[..., Any]]]:
        actuated = (Arm, Hand)
        return {
            "ping": (
                (),
                lambda d, a, i, r: {
                    "node": self.options.name,
                    "lockstep": self.options.lockstep,
                    "devices": sorted(self.devices),
                },
            ),
            "info": ((Device,), lambda d, a, i, r: jsonable_dict(d.info().to_dict())),
            "stats": ((), lambda d, a, i, r: self.stats.__dict__.copy()),
            "stop": (actuated, self._rpc_stop),
            "emergency_stop": (actuated, self._rpc_estop),
            "release_emergency_stop": (actuated, lambda d, a, i, r: d.release_emergency_stop()),
            "move_to": ((Arm,), self._rpc_move_to),
            "tick": ((), self._rpc_tick),
            "reset": ((World,), lambda d, a, i, r: d.reset(**a)),
            "perturb": ((World,), lambda d, a, i, r: d.perturb(**a)),
            "progress": ((World,), lambda d, a, i, r: _progress_dict(d)),
        }

    def _rpc_stop(self, dev: Arm | Hand, args: dict[str, Any], identity: bytes, rid: int) -> None:
        self._streaming.pop(self._name_of(dev), None)
        dev.stop()

    def _rpc_estop(self, dev: Arm | Hand, args: dict[str, Any], identity: bytes, rid: int) -> None:
        self._streaming.pop(self._name_of(dev), None)
        dev.emergency_stop()

    def _rpc_tick(self, dev: None, args: dict[str, Any], identity: bytes, rid: int) -> dict[str, Any]:
        if not self.options.lockstep or self.hosted.sim is None:
            raise CommandRejected(f"node {self.options.name} is not in lockstep mode")
        periods = int(args.get("periods", 1))
        if not 1 <= periods <= 100_000:
            raise CommandRejected(f"tick periods must be in [1, 100000], got {periods}")
        self._await_commands(dict(args.get("after", {})))
        for _ in range(periods):
            self._advance(self.hosted.sim.control_period_s)
        self._check_watchdog()
        return {"sim_time_s": self._sim_time_s}

    def _await_commands(self, after: dict[str, int], timeout_s: float = 1.0) -> None:
        """Take in the commands a tick names before stepping, whatever order the sockets delivered them."""
        deadline = time.monotonic() + timeout_s
        while any(self._received_seq.get(d, -1) < int(s) for d, s in after.items() if d in self.devices):
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"commands {after} named by a tick never arrived")
            if self._cmd.poll(10):
                self._handle_commands()

    def _rpc_move_to(self, dev: Arm, args: dict[str, Any], identity: bytes, rid: int) -> object:
        name = self._name_of(dev)
        if name in self._busy:
            raise CommandRejected(f"{name} is already executing {self._busy[name].what}")
        q = dev.check_target(args["q_rad"], "move_to target")
        speed = float(args.get("speed_rad_s", 1.05))
        timeout_s = float(args.get("timeout_s", 30.0))
        self._streaming.pop(name, None)
        begin = getattr(dev, "begin_move", None)
        if begin is not None and self.hosted.sim is not None:
            begin(q, speed)  # simulated arm: the node's clock drives the motion
            if self.options.lockstep:
                sim = self.hosted.sim
                steps = int(timeout_s / sim.control_period_s)
                for _ in range(steps):
                    if dev.move_finished():
                        return None
                    self._advance(sim.control_period_s)
                dev.stop()
                raise CommandRejected(f"move_to did not finish within {timeout_s} s of simulated time")
            self._busy[name] = _Pending(identity, rid, dev.move_finished, time.monotonic() + timeout_s, "move_to")
            return _DEFERRED
        pending = _Pending(identity, rid, lambda: False, time.monotonic() + timeout_s + 1.0, "move_to")

        def run() -> None:
            try:
                dev.move_to(q, speed_rad_s=speed, timeout_s=timeout_s)
            except BaseException as exc:  # reported to the caller by _finish_pending
                pending.error.append(exc)

        pending.worker = threading.Thread(target=run, daemon=True)
        pending.done = lambda: not pending.worker.is_alive() and not pending.error  # type: ignore[union-attr]
        self._busy[name] = pending
        pending.worker.start()
        return _DEFERRED

    def _name_of(self, dev: Device) -> str:
        return next(n for n, d in self.devices.items() if d is dev)


_DEFERRED = object()


def _progress_dict(world: World) -> dict[str, Any]:
    p = world.progress()
    return {
        "turns_done": float(p.turns_done),
        "turns_required": float(p.turns_required),
        "fastened": bool(p.fastened),
        "time_s": float(p.time_s),
        "task": p.task,
        "shape": p.shape,
    }


def jsonable_dict(d: dict[str, Any]) -> dict[str, Any]:
    """numpy values -> msgpack-native values, so device `extra` info can hold arrays."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = jsonable_dict(v)
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out
