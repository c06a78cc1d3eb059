"""Remote proxies: the device interfaces, implemented by talking to a node.

`RemoteArm`, `RemoteHand`, `RemoteTactile` and `RemoteWorld` are ordinary
`Arm`/`Hand`/`TactileSensor`/`World` implementations, so application code cannot
tell a node from an in-process device. Commands are validated here first (fail
fast, with the node's limits fetched at connect) and again by the node.

Liveness: a state read raises `DeviceTimeoutError` when nothing arrived from the
node for `stale_after_s` (default 0.25 s), instead of returning old data or hanging.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from dexscrew_sdk import rpc
from dexscrew_sdk.bus import CommandSender, Context, CurveKeys, Endpoints, RpcClient, StateSubscriber
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import (
    DeviceNotConnected,
    DeviceTimeoutError,
    EmergencyStopActive,
    RemoteCallError,
    error_class,
)
from dexscrew_sdk.interfaces import Arm, Hand, TactileSensor, World
from dexscrew_sdk.messages import (
    arm_servo_message,
    hand_command_message,
    message_to_arm_state,
    message_to_hand_state,
    message_to_tactile,
    state_topic,
)
from dexscrew_sdk.records import (
    SENDER_SHIFT,
    ArmState,
    DeviceInfo,
    DeviceMode,
    HandState,
    TactileFrame,
    TaskProgress,
    applied,
    new_sender_id,
)
from dexscrew_sdk.safety import JointLimits

DEFAULT_STALE_AFTER_S = 0.25
FIRST_STATE_TIMEOUT_S = 2.0


class NodeClient:
    """The sockets one process uses to talk to one node, shared by that node's proxies."""

    def __init__(
        self,
        endpoints: Endpoints,
        devices: list[str],
        ctx: Context | None = None,
        curve: CurveKeys | None = None,
        rpc_timeout_s: float = 2.0,
    ) -> None:
        self._own_ctx = ctx is None
        self.ctx = ctx or Context(curve)
        self.endpoints = endpoints
        self.subscribed = {state_topic(d) for d in devices}
        self.sub = StateSubscriber(self.ctx, endpoints.state, sorted(self.subscribed))
        self.cmd = CommandSender(self.ctx, endpoints.command)
        self.rpc = RpcClient(self.ctx, endpoints.rpc, rpc_timeout_s)
        self._rx_time: dict[bytes, float] = {}
        self.sent_seq: dict[str, int] = {}  # last streaming command per device, for lockstep ticks
        # World progress from this client's last lockstep tick, one read each; any other call drops it,
        # since a reset, perturb or move may change the world (in lockstep nothing else does)
        self._tick_progress: dict[str, dict[str, Any]] = {}

    def send_command(self, device: str, msg: Message) -> None:
        if self.cmd.send(device.encode(), msg):  # a dropped command must not be named by the next tick
            self.sent_seq[device] = msg.seq

    def latest(self, device: str, stale_after_s: float) -> Message:
        """Newest state of a device, or DeviceTimeoutError once none arrived for stale_after_s."""
        topic = state_topic(device)
        self._pump(0.0)
        last = self._rx_time.get(topic)
        if last is None:  # a fresh subscription needs a moment to join
            deadline = time.monotonic() + FIRST_STATE_TIMEOUT_S
            while topic not in self._rx_time:
                if time.monotonic() >= deadline:
                    raise DeviceTimeoutError(
                        f"{device}: no state from {self.endpoints.state} within {FIRST_STATE_TIMEOUT_S:.1f} s "
                        "of subscribing; is its node running?"
                    )
                self._pump(deadline - time.monotonic())
        elif time.monotonic() - last > stale_after_s:
            raise DeviceTimeoutError(
                f"{device}: no state from {self.endpoints.state} for {stale_after_s:.2f} s; is its node running?"
            )
        return self.sub.latest[topic]

    def await_states(self, min_seq: dict[str, int], timeout_s: float) -> None:
        """Block until each device's newest state has at least the given sequence number."""
        deadline = time.monotonic() + timeout_s
        for device, seq in min_seq.items():
            topic = state_topic(device)
            while True:
                msg = self.sub.latest.get(topic)
                if msg is not None and msg.seq >= seq:
                    break
                if time.monotonic() >= deadline:
                    raise DeviceTimeoutError(f"{device}: state seq {seq} not received within {timeout_s:.2f} s")
                self._pump(deadline - time.monotonic())

    def call(self, device: str, method: str, args: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        """RPC that re-raises the node's SDK exceptions as their own types and returns only
        once the states the call published have arrived here."""
        self._tick_progress = {}
        try:
            reply = self.rpc.request(device, method, args, timeout_s)
        except RemoteCallError as exc:
            cls = error_class(exc.kind)
            if cls is None:
                raise
            raise cls(exc.remote_message) from None
        published = reply.fields.get("published") or {}
        mine = {d: s for d, s in published.items() if state_topic(d) in self.subscribed}
        if mine:
            self.await_states(mine, self.rpc.timeout_s if timeout_s is None else timeout_s)
        result = reply.fields.get("result")
        if method == "tick":
            _, self._tick_progress = rpc.check_tick_result(result)
        return result

    def take_tick_progress(self, device: str) -> dict[str, Any] | None:
        """The World's progress the last tick reported, once; None when a call since may have changed it."""
        return self._tick_progress.pop(device, None)

    def _pump(self, timeout_s: float) -> None:
        """Wait up to timeout_s for one message, then take whatever else is queued."""
        got = self.sub.recv(max(0.0, timeout_s))
        while got is not None:
            self._rx_time[got[0]] = time.monotonic()
            got = self.sub.recv(0.0)

    def close(self) -> None:
        self.sub.close()
        self.cmd.close()
        self.rpc.close()
        if self._own_ctx:
            self.ctx.close()


class _RemoteMixin:
    """Connection bookkeeping shared by the four proxies."""

    def _init_remote(self, node: NodeClient, device: str, stale_after_s: float, info: DeviceInfo | None) -> None:
        self.node = node
        self.device = device
        self.stale_after_s = stale_after_s
        self._info = info
        # this proxy's own sender id: its commands can never be taken for another client's
        self.sender_id = new_sender_id()
        self._seq = itertools.count((self.sender_id << SENDER_SHIFT) + 1)

    def info(self) -> DeviceInfo:
        if self._info is None:
            self._info = DeviceInfo.from_dict(self.node.call(self.device, "info"))
        return self._info

    def _limits_from_info(self) -> JointLimits:
        i = self.info()
        return JointLimits(i.joint_names, np.array(i.lower_rad), np.array(i.upper_rad), np.array(i.max_speed_rad_s))

    def _latest(self) -> Message:
        return self.node.latest(self.device, self.stale_after_s)

    # -- actuated proxies only (arm, hand): the e-stop latch lives at the node
    def _require_commandable(self, what: str) -> None:
        super()._require_commandable(what)  # type: ignore[misc]
        if self.state().mode == DeviceMode.EMERGENCY_STOP:  # type: ignore[attr-defined]
            raise EmergencyStopActive(f"{what} refused: {self.device} is emergency-stopped at its node")

    def emergency_stop(self) -> None:
        self._estopped = True
        self.node.call(self.device, "emergency_stop")

    def release_emergency_stop(self) -> None:
        self.node.call(self.device, "release_emergency_stop")
        self._estopped = False

    def wait_applied(self, seq: int, timeout_s: float = 1.0) -> Any:
        """The first state showing that this proxy's command `seq` (or a later one of its own) was accepted.

        Only this proxy's own commands count (a seq names its sender); DeviceTimeoutError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            s = self.state()  # type: ignore[attr-defined]
            if applied(s.cmd_seq, seq):
                return s
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"{self.device}: command {seq} not applied within {timeout_s} s")
            self.node._pump(min(0.01, deadline - time.monotonic()))


class RemoteArm(_RemoteMixin, Arm):
    def __init__(
        self,
        node: NodeClient,
        device: str = "arm",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        info: DeviceInfo | None = None,
    ) -> None:
        Arm.__init__(self)
        self._init_remote(node, device, stale_after_s, info)

    def connect(self) -> None:
        self.limits = self._limits_from_info()

    def state(self) -> ArmState:
        return message_to_arm_state(self._latest())

    def _apply_servo(self, q_rad: np.ndarray, seq: int) -> None:
        self.node.send_command(self.device, arm_servo_message(q_rad, seq))

    def _apply_move(self, q_rad: np.ndarray, speed_rad_s: float, timeout_s: float) -> None:
        args = rpc.check_client_args(
            "move_to", {"q_rad": q_rad.tolist(), "speed_rad_s": speed_rad_s, "timeout_s": timeout_s}
        )
        self.node.call(self.device, "move_to", args, timeout_s=timeout_s + 2.0)

    def _apply_stop(self) -> None:
        self.node.call(self.device, "stop")


class RemoteHand(_RemoteMixin, Hand):
    def __init__(
        self,
        node: NodeClient,
        device: str = "hand",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        info: DeviceInfo | None = None,
    ) -> None:
        Hand.__init__(self)
        self._init_remote(node, device, stale_after_s, info)

    def connect(self) -> None:
        self.limits = self._limits_from_info()

    def state(self) -> HandState:
        return message_to_hand_state(self._latest())

    def _apply_command(self, q_rad: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, seq: int) -> None:
        self.node.send_command(self.device, hand_command_message(q_rad, kp, kd, seq))

    def _apply_stop(self) -> None:
        self.node.call(self.device, "stop")


class RemoteTactile(_RemoteMixin, TactileSensor):
    def __init__(
        self,
        node: NodeClient,
        device: str = "tactile",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        info: DeviceInfo | None = None,
    ) -> None:
        TactileSensor.__init__(self)
        self._init_remote(node, device, stale_after_s, info)

    def frame(self) -> TactileFrame:
        return message_to_tactile(self._latest())


class RemoteWorld(_RemoteMixin, World):
    def __init__(
        self,
        node: NodeClient,
        device: str = "world",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        info: DeviceInfo | None = None,
    ) -> None:
        World.__init__(self)
        self._init_remote(node, device, stale_after_s, info)

    def reset(self, task: str, shape: str, seed: int = 0, randomisation: dict[str, Any] | None = None) -> None:
        args = {"task": task, "shape": shape, "seed": seed, "randomisation": randomisation or {}}
        self.node.call(self.device, "reset", rpc.check_client_args("reset", args), timeout_s=30.0)

    def perturb(self, kind: str) -> None:
        self.node.call(self.device, "perturb", rpc.check_client_args("perturb", {"kind": kind}))

    def progress(self) -> TaskProgress:
        fields = self.node.take_tick_progress(self.device)  # lockstep: what the tick just reported
        if fields is None:
            fields = rpc.check_progress(self.node.call(self.device, "progress"))
        return TaskProgress(**fields)


PROXIES: dict[str, type[_RemoteMixin]] = {
    "arm": RemoteArm,
    "hand": RemoteHand,
    "tactile": RemoteTactile,
    "world": RemoteWorld,
}


def require(device: Any, name: str) -> Any:
    if device is None:
        raise DeviceNotConnected(f"this cell has no {name}")
    return device
