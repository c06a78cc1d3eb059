"""A node process serves one or more devices over the bus.

The node owns the devices. Its single-threaded loop polls the command and RPC
sockets, advances a hosted simulation (by wall time, or one control period per
`tick` in lockstep), runs the command watchdog and publishes states. A command
is published back at once with its sequence number (``cmd_seq``) so clients can
measure and wait on end-to-end application.

Nothing a client sends can take the node down: a request is decoded, checked
against its method's declared schema (`dexscrew_sdk.rpc`) and only then handed
to its handler as one typed `Call`; every failure, at any stage, is counted in
`rejected` and answered with an error reply.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from dexscrew_sdk import codec, rpc
from dexscrew_sdk.bus import NOBLOCK, Context, recv_frames, send
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import (
    CodecError,
    CommandRejected,
    DeviceTimeoutError,
    DexscrewError,
    MoveTimeoutError,
)
from dexscrew_sdk.hosting import Hosted, NodeOptions, NodeStats, jsonable_dict, pick_devices, progress_dict
from dexscrew_sdk.interfaces import Arm, ClockDrivenArm, Hand, TactileSensor, World
from dexscrew_sdk.messages import STATE_ENCODERS, state_topic
from dexscrew_sdk.records import SENDER_SHIFT

# Hosted, NodeOptions, NodeStats and pick_devices live in hosting.py; factories import them from here too.
__all__ = ["Hosted", "Node", "NodeOptions", "NodeStats", "jsonable_dict", "pick_devices"]

log = logging.getLogger(__name__)
LOG_EVERY_S = 0.5  # rejected input is always counted and published as an event; logged at most this often


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
        try:
            self._pub = self._ctx.socket(zmq.PUB, server=True)
            self._pub.sndhwm = 1000
            self._pub.bind(ep.state)
            self._cmd = self._ctx.socket(zmq.PULL, server=True)
            self._cmd.rcvhwm = 256
            self._cmd.bind(ep.command)
            self._rpc = self._ctx.socket(zmq.ROUTER, server=True)
            self._rpc.bind(ep.rpc)
        except BaseException:  # a port taken: release the ones already bound
            self._ctx.close()
            raise
        self._topics = {name: state_topic(name) for name in self.devices}
        self._event_topic = f"{options.name}/event".encode()
        self._streaming: dict[str, float] = {}  # device -> time of its last streaming command
        self._busy: dict[str, _Pending] = {}
        self._sim_time_s = 0.0
        self._last_seq: dict[str, int] = {}
        self._published_at: dict[str, float] = {}  # device -> monotonic time of its last state publish
        # newest command seq seen per (device, sender), applied or not: what lockstep ticks wait for
        self._received_seq: dict[tuple[str, int], int] = {}
        self._handlers = self._rpc_table()
        self._last_log_s, self._logged_rejects = -LOG_EVERY_S, 0

    # ---------------------------------------------------------------- lifecycle
    def request_stop(self) -> None:
        self._stop.set()

    def wait_stop_requested(self, timeout_s: float) -> bool:
        """True once a stop was requested; False after timeout_s without one."""
        return self._stop.wait(timeout_s)

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
                # Whole milliseconds rounded UP: zmq truncates a float timeout, so the last fraction of a
                # millisecond before each publish was a busy loop of zero-timeout polls (15-20 % of a core idle).
                timeout_ms = math.ceil(max(0.0, min(next_pub - now, 0.005 if self._realtime_sim else 0.05)) * 1000)
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
                    # In lockstep a state changes only in a call that publishes it (tick, command, RPC): the
                    # timer is a liveness heartbeat for devices nothing published within the last period.
                    self._publish_all(stale_before=now - period if self.options.lockstep else None)
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
        if dev is not None:  # a tick naming this command must not wait for it, accepted or not
            key = (name, msg.seq >> SENDER_SHIFT)
            if msg.seq > self._received_seq.get(key, -1):
                self._received_seq[key] = msg.seq
        try:
            if name in self._busy:
                raise CommandRejected(f"{name} is executing {self._busy[name].what}")
            if msg.type == "arm_servo" and isinstance(dev, Arm):
                dev.servo(msg.arrays["q_rad"], seq=msg.seq)
            elif msg.type == "hand_command" and isinstance(dev, Hand):
                a = msg.arrays
                dev.command(a["q_rad"], kp=a.get("kp"), kd=a.get("kd"), seq=msg.seq)
            else:
                raise CommandRejected(f"no device {name!r} accepting {msg.type!r} on node {self.options.name}")
        except Exception as exc:  # a command must never take the node down
            if not isinstance(exc, DexscrewError):
                log.exception("%s: applying %s failed", name, msg.type)
            self._reject(f"{type(exc).__name__}: {exc}")
            return
        self.stats.applied += 1
        self._streaming[name] = self._now()
        self._publish(name)

    def _reject(self, why: str) -> None:
        self.stats.rejected += 1
        self.stats.last_error = why[:500]
        # a flood of bad input must not turn into a flood of log lines: at most LOG_EVERY_S apart
        now = time.monotonic()
        if now - self._last_log_s >= LOG_EVERY_S:
            more = self.stats.rejected - self._logged_rejects - 1
            log.warning("%s: %s%s", self.options.name, why[:500], f" (+{more} more rejected)" if more else "")
            self._last_log_s, self._logged_rejects = now, self.stats.rejected
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
    def _publish_all(self, stale_before: float | None = None) -> None:
        """Every device's state; with stale_before, only those last published before that time."""
        for name in self.devices:
            if stale_before is None or self._published_at.get(name, -math.inf) < stale_before:
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
        self._published_at[name] = time.monotonic()
        self._last_seq[name] = sample.seq
        self.stats.published += 1

    # ---------------------------------------------------------------- rpc
    def _handle_rpc(self) -> None:
        while True:
            try:
                frames = recv_frames(self._rpc, NOBLOCK)
            except zmq.Again:
                break
            self._dispatch(frames[0], frames[1:])

    def _dispatch(self, identity: bytes, body: list[bytes]) -> None:
        """Decode, check against the method's schema, run. Never raises: every failure is a counted,
        rejected request answered with an error reply (request id 0 when the request was unreadable)."""
        request_id = 0
        try:
            _, msg = codec.decode(body)
            if msg.type != "rpc_request":
                raise CodecError(f"expected rpc_request, got {msg.type}")
            request_id = msg.seq
            method, device, dev, args = rpc.check_request(msg.fields, self.devices)
            call = rpc.Call(method.name, device, dev, args, identity, request_id)
            result = self._handlers[method.name](call)
            # a tick advances, and a world call (reset, perturb) rebuilds or moves, every device of the cell;
            # reading the World's progress changes nothing, so it republishes nothing (it was 3 states a step)
            whole_cell = method.name == "tick" or (isinstance(dev, World) and method.name not in _READ_ONLY)
            publish = list(self.devices) if whole_cell else [device] if dev is not None else []
        except Exception as exc:  # a failing call must never take the node down
            if not isinstance(exc, (DexscrewError, TypeError, ValueError, KeyError)):
                log.exception("rpc failed")
            self._fail(identity, request_id, exc)
            return
        if result is not _DEFERRED:
            self._reply(identity, request_id, ok=True, result=result, publish=publish)

    def _fail(self, identity: bytes, request_id: int, exc: BaseException) -> None:
        self._reject(f"rpc {request_id}: {type(exc).__name__}: {exc}")
        self._reply(identity, request_id, ok=False, error_kind=type(exc).__name__, error=str(exc)[:2000])

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
        try:
            frames = codec.encode(b"rpc", Message("rpc_reply", request_id, time.monotonic_ns(), fields))
        except CodecError as exc:  # a result the wire cannot carry is the handler's bug: say so, stay up
            log.error("reply to rpc %d cannot be encoded: %s", request_id, exc)
            fields = {**fields, "ok": False, "result": None, "error_kind": "CodecError", "error": str(exc)[:2000]}
            frames = codec.encode(b"rpc", Message("rpc_reply", request_id, time.monotonic_ns(), fields))
        self._rpc.send_multipart([identity, *frames])

    def _finish_pending(self) -> None:
        for name, p in list(self._busy.items()):
            if p.error:
                del self._busy[name]
                self._fail(p.identity, p.request_id, p.error[0])
            elif p.done():
                del self._busy[name]
                self._reply(p.identity, p.request_id, ok=True, publish=[name])
            elif time.monotonic() > p.deadline:
                del self._busy[name]
                dev = self.devices[name]
                assert isinstance(dev, Arm)
                dev.stop()
                self._fail(p.identity, p.request_id, MoveTimeoutError(f"{p.what} did not finish in time; arm stopped"))

    def _rpc_table(self) -> dict[str, Callable[[rpc.Call], Any]]:
        table: dict[str, Callable[[rpc.Call], Any]] = {
            "ping": self._rpc_ping,
            "info": lambda c: jsonable_dict(c.device.info().to_dict()),
            "stats": lambda c: self.stats.__dict__.copy(),
            "stop": self._rpc_stop,
            "emergency_stop": self._rpc_estop,
            "release_emergency_stop": lambda c: c.device.release_emergency_stop(),
            "move_to": self._rpc_move_to,
            "tick": self._rpc_tick,
            "reset": lambda c: c.device.reset(**c.args),
            "perturb": lambda c: c.device.perturb(**c.args),
            "progress": lambda c: progress_dict(c.device),
        }
        assert set(table) == set(rpc.METHODS), "every declared method has a handler, and only those"
        return table

    def _rpc_ping(self, call: rpc.Call) -> dict[str, Any]:
        # the pid lets a launcher tell its own node from another cell's on the same ports
        return {"node": self.options.name, "lockstep": self.options.lockstep, "devices": sorted(self.devices),
                "pid": os.getpid()}  # fmt: skip

    def _rpc_stop(self, call: rpc.Call) -> None:
        self._streaming.pop(call.device_name, None)
        call.device.stop()

    def _rpc_estop(self, call: rpc.Call) -> None:
        self._streaming.pop(call.device_name, None)
        call.device.emergency_stop()

    def _rpc_tick(self, call: rpc.Call) -> dict[str, Any]:
        if not self.options.lockstep or self.hosted.sim is None:
            raise CommandRejected(f"node {self.options.name} is not in lockstep mode")
        self._await_commands(call.args["after"])
        for _ in range(call.args["periods"]):
            self._advance(self.hosted.sim.control_period_s)
        self._check_watchdog()
        # the World's progress after the tick rides in its reply: a lockstep step needs no progress call
        progress = {name: progress_dict(dev) for name, dev in self.devices.items() if isinstance(dev, World)}
        return {"sim_time_s": self._sim_time_s, "progress": progress}

    def _await_commands(self, after: dict[str, int], timeout_s: float = 1.0) -> None:
        """Take in the commands a tick names before stepping, whatever order the sockets delivered them.
        A seq names its sender, so only that sender's own commands count."""
        wanted = {(d, s >> SENDER_SHIFT): s for d, s in after.items() if d in self.devices}
        deadline = time.monotonic() + timeout_s
        while any(self._received_seq.get(k, -1) < s for k, s in wanted.items()):
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"commands {after} named by a tick never arrived")
            if self._cmd.poll(10):
                self._handle_commands()

    def _rpc_move_to(self, call: rpc.Call) -> object:
        dev: Arm = call.device
        name = call.device_name
        if name in self._busy:
            raise CommandRejected(f"{name} is already executing {self._busy[name].what}")
        a = call.args
        q, speed, timeout_s = dev.check_move(a["q_rad"], a["speed_rad_s"], a["timeout_s"])
        dev.check_commandable("move_to")
        self._streaming.pop(name, None)
        sim = self.hosted.sim
        if isinstance(dev, ClockDrivenArm) and sim is not None:
            dev.begin_move(q, speed)  # the node's clock drives the motion
            if self.options.lockstep:
                for _ in range(int(timeout_s / sim.control_period_s)):
                    if dev.move_finished():
                        return None
                    self._advance(sim.control_period_s)
                dev.stop()
                raise MoveTimeoutError(f"move_to did not finish within {timeout_s} s of simulated time; arm stopped")
            self._busy[name] = _Pending(call.identity, call.request_id, dev.move_finished,
                                        time.monotonic() + timeout_s, "move_to")  # fmt: skip
            return _DEFERRED
        pending = _Pending(call.identity, call.request_id, lambda: False, time.monotonic() + timeout_s + 1.0, "move_to")

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


_DEFERRED = object()
_READ_ONLY = frozenset({"info", "progress"})  # World calls that change no device state
