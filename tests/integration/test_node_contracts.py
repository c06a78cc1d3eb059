"""A live node refuses what it does not understand, counts it, answers it, and keeps serving."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import zmq

from dexscrew_sdk import codec
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import CommandRejected, ConfigError
from dexscrew_sdk.messages import rpc_request
from dexscrew_sdk.records import SENDER_SHIFT, sender_of
from tests.conftest import REFERENCE_CELL, NodeProcess, free_base_port, start_node, wait_until
from tests.wire import frames_of

pytestmark = pytest.mark.integration


class RawRpc:
    """A DEALER that sends whatever it is given: a client that is not the SDK's proxy."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, frames: list[bytes], timeout_s: float = 2.0) -> Message:
        self.sock.send_multipart(frames)
        assert self.sock.poll(int(timeout_s * 1000)), "the node did not answer"
        return codec.decode(self.sock.recv_multipart())[1]

    def request(self, fields: dict[str, object], request_id: int = 7) -> Message:
        msg = rpc_request(request_id, "", "", {})
        msg.fields = fields
        return self.send(frames_of(b"rpc", msg) if set(fields) >= {"device", "method", "args"} else _unchecked(msg))

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


def _unchecked(msg: Message) -> list[bytes]:
    """Frames of a message the SDK's own encoder would refuse (a field missing): packed by hand."""
    import msgpack

    header = {"v": 1, "t": msg.type, "seq": msg.seq, "ns": msg.stamp_ns, "f": msg.fields, "a": []}
    return [b"rpc" + codec.TOPIC_END + msgpack.packb(header, use_bin_type=True)]


@pytest.fixture
def raw(reference_node: NodeProcess) -> Iterator[RawRpc]:
    client = RawRpc(f"tcp://127.0.0.1:{reference_node.base_port + 2}")
    yield client
    client.close()


def _stats(raw: RawRpc) -> dict[str, int]:
    return raw.request({"device": "", "method": "stats", "args": {}}).fields["result"]


@pytest.mark.parametrize("missing", ["device", "method", "args"])
def test_a_request_missing_a_field_is_refused_counted_and_answered_and_the_node_lives(
    reference_node: NodeProcess, raw: RawRpc, missing: str
) -> None:
    pid = reference_node.proc.pid
    fields: dict[str, object] = {"device": "arm", "method": "stop", "args": {}}
    before = _stats(raw)["rejected"]
    for _ in range(6):  # six of these once used up the launcher's restarts
        del_fields = {k: v for k, v in fields.items() if k != missing}
        reply = raw.request(del_fields)
        assert reply.fields["ok"] is False and missing in reply.fields["error"]
    assert _stats(raw)["rejected"] == before + 6
    ping = raw.request({"device": "", "method": "ping", "args": {}}).fields["result"]
    assert ping["pid"] == pid and reference_node.proc.poll() is None


@pytest.mark.parametrize(
    "args, needle",
    [
        ({"q_rad": None}, "q_rad must be a list of 6 numbers"),
        ({"q_rad": ["0"] * 6}, "q_rad[0] must be a finite number"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": 1e6}, "speed_rad_s must be in"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": -1.0}, "speed_rad_s must be in"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": math.nan}, "speed_rad_s must be in"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": 0}, "speed_rad_s must be in"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": 1e-9}, "speed_rad_s must be in"),
        ({"q_rad": [0.0] * 6, "timeout_s": math.nan}, "timeout_s must be in"),
        ({"q_rad": [0.0] * 6, "speed_rad_s": 0.002, "timeout_s": 5.0}, "longer than timeout_s"),
        ({"q_rad": [0.0] * 6, "velocity": 1.0}, "unknown arguments ['velocity']"),
    ],
)
def test_move_to_arguments_are_checked_at_the_node_whoever_sends_them(
    reference_node: NodeProcess, raw: RawRpc, args: dict[str, object], needle: str
) -> None:
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as cell:
        before = cell.arm.state().q_rad.copy()
        goal = (before + 0.5).tolist()
        if args.get("q_rad") == [0.0] * 6:
            args = {**args, "q_rad": goal}
        reply = raw.request({"device": "arm", "method": "move_to", "args": args})
        assert reply.fields["ok"] is False, reply.fields
        assert reply.fields["error_kind"] == "CommandRejected" and needle in reply.fields["error"]
        # nothing moved: the arm holds where it was (the reference arm tracks exactly)
        wait_until(lambda: cell.arm.state().seq > 3, 2.0, "a few states")
        np.testing.assert_allclose(cell.arm.state().q_rad, before, atol=1e-12)


def test_an_over_fast_move_is_clamped_to_the_arms_own_speed_limit(reference_node: NodeProcess, raw: RawRpc) -> None:
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as cell:
        start = cell.arm.state().q_rad.copy()
        goal = start + 0.3
        t_start = cell.arm.state().stamp_ns
        reply = raw.request(
            {"device": "arm", "method": "move_to", "args": {"q_rad": goal.tolist(), "speed_rad_s": 9.5}}
        )
        assert reply.fields["ok"] is True
        state = cell.arm.state()
        limit = float(cell.arm.limits.max_speed_rad_s.min())
        assert (state.stamp_ns - t_start) / 1e9 >= 0.3 / limit * 0.9  # took as long as the limit asks


def test_a_bad_timeout_is_refused_before_anything_is_sent(reference_node: NodeProcess) -> None:
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as cell:
        before_stats = cell.nodes["cell"].call("", "stats")
        before = cell.arm.state().q_rad.copy()
        with pytest.raises(CommandRejected, match="timeout_s must be in"):
            cell.arm.move_to(before + 0.2, timeout_s=math.nan)
        with pytest.raises(CommandRejected, match="speed_rad_s must be in"):
            cell.arm.move_to(before + 0.2, speed_rad_s=0.0)
        after_stats = cell.nodes["cell"].call("", "stats")
        assert after_stats["rejected"] == before_stats["rejected"]  # the node never heard of them
        wait_until(lambda: cell.arm.state().seq > 5, 2.0, "a few states")
        np.testing.assert_allclose(cell.arm.state().q_rad, before, atol=1e-12)


def test_a_new_client_waits_for_its_own_command_not_an_earlier_clients(reference_node: NodeProcess) -> None:
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as first:
        for _ in range(50):
            seq = first.hand.command(first.hand.state().q_rad)
        first.hand.wait_applied(seq)
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as second:
        old = second.hand.state().cmd_seq
        assert old == seq
        mine = second.hand.command(second.hand.state().q_rad)
        assert sender_of(mine) != sender_of(old) and mine & ((1 << SENDER_SHIFT) - 1) == 1
        state = second.hand.wait_applied(mine)
        assert state.cmd_seq == mine  # the earlier client's 50 commands never counted as this one
        arm_seq = second.arm.servo(second.arm.state().q_rad)
        assert second.arm.wait_applied(arm_seq).cmd_seq == arm_seq  # every actuated proxy can wait


def test_a_lockstep_tick_waits_for_the_new_clients_own_command() -> None:
    base = free_base_port()
    overrides = [f"nodes.cell.base_port={base}", "cell.lockstep=true"]
    node = start_node(REFERENCE_CELL, "cell", overrides)
    try:
        with Cell.connect(REFERENCE_CELL, overrides) as first:
            for _ in first.clock.ticks(20):
                first.hand.command(first.hand.state().q_rad)
        with Cell.connect(REFERENCE_CELL, overrides) as second:
            lo, hi = second.hand.limits.lower_rad, second.hand.limits.upper_rad
            target = lo + 0.7 * (hi - lo)
            for _ in second.clock.ticks(3):
                seq = second.hand.command(target)
            # the tick after the command took it in: the state shows this client's command, not the first's
            assert second.hand.state().cmd_seq == seq
    finally:
        node.kill()


def test_state_arrays_from_the_bus_are_read_only_like_in_process_ones(reference_node: NodeProcess) -> None:
    with Cell.connect(REFERENCE_CELL, reference_node.overrides) as cell:
        for array in (cell.arm.state().q_rad, cell.hand.state().torque_nm, cell.tactile.frame().force_n):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array.flat[0] = 1.0


def test_proxies_are_chosen_by_the_kind_a_device_reports_not_by_its_name() -> None:
    base = free_base_port()
    overrides = [
        f"nodes.cell.base_port={base}",
        'nodes.cell.serves=["left", "right", "wrist_cam"]',
        'nodes.cell.factory="tests.integration.factories:make_gripper"',
        "nodes.cell.params={}",
    ]
    node = start_node(REFERENCE_CELL, "cell", overrides)
    try:
        with pytest.raises(ConfigError, match=r"device 'left' of node 'cell' reports kind 'gripper'"):
            Cell.connect(REFERENCE_CELL, overrides)
    finally:
        node.kill()
    base = free_base_port()
    renamed = [f"nodes.cell.base_port={base}", 'nodes.cell.serves=["arm", "hand", "tactile"]']
    node = start_node(REFERENCE_CELL, "cell", renamed)
    try:
        with Cell.connect(REFERENCE_CELL, renamed) as cell:
            assert type(cell.devices["tactile"]).__name__ == "RemoteTactile"
            assert cell.devices["tactile"].info().kind == "tactile"
    finally:
        node.kill()


def test_a_node_built_from_a_factory_breaking_the_rule_exits_with_the_rule_and_no_traceback() -> None:
    base = free_base_port()
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "node", str(REFERENCE_CELL), "--name", "cell",
           "--set", f"nodes.cell.base_port={base}",
           "--set", 'nodes.cell.factory="tests.integration.factories:make_untyped"',
           "--set", "nodes.cell.params={}"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "def make(params: P, ctx: NodeContext) -> Hosted" in done.stderr and "Traceback" not in done.stderr


def test_an_idle_node_sleeps_between_publishes_instead_of_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    """zmq truncates a float poll timeout to whole milliseconds: the node must not turn the last fraction
    of a millisecond before each publish into a loop of zero-timeout polls (a share of a core, always)."""
    import threading

    from dexscrew_sdk import config, node_process

    polls = [0]

    class CountingPoller(zmq.Poller):
        def poll(self, timeout: float | None = None) -> list:  # type: ignore[override]
            polls[0] += 1
            return super().poll(timeout)

    monkeypatch.setattr(zmq, "Poller", CountingPoller)
    overrides = [f"nodes.cell.base_port={free_base_port()}", 'nodes.cell.serves=["hand"]', "nodes.cell.publish_hz=100"]
    node = node_process.build_node(config.load(REFERENCE_CELL, overrides), "cell")
    thread = threading.Thread(target=node.serve_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: node.stats.published >= 60, 30, "60 idle publishes")
    finally:
        node.request_stop()
        thread.join(10)
    # one poll per 5 ms simulation step and per publish (10 ms): about 2 a publish; spinning gave 10-25
    assert polls[0] <= 4 * node.stats.published, (polls[0], node.stats.published)
