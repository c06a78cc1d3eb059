"""A reference-cell node in its own process, driven through the Remote* interfaces."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dexscrew_sdk import joints
from dexscrew_sdk.bus import generate_cell_keys
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import CommandRejected, DeviceTimeoutError, EmergencyStopActive
from dexscrew_sdk.messages import arm_servo_message, hand_command_message
from dexscrew_sdk.records import DeviceMode
from tests.conftest import REFERENCE_CELL, NodeProcess, free_base_port, start_node, wait_until
from tests.wire import frames_of, split_header, with_header, with_inline_bytes

pytestmark = pytest.mark.integration


def _cell(node: NodeProcess) -> Cell:
    return Cell.connect(node.config, node.overrides)


def test_hand_command_round_trip_and_tracking(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        hand = cell.hand
        assert hand.info().joint_names == joints.HAND_JOINT_NAMES
        target = np.clip(np.full(12, 0.8), hand.limits.lower_rad, hand.limits.upper_rad)
        seq = hand.command(target)
        assert hand.wait_applied(seq, timeout_s=1.0).cmd_seq == seq

        def streamed_and_reached() -> bool:  # targets are a stream: the node's watchdog holds a silent hand
            hand.command(target)
            return np.allclose(hand.state().q_rad, target, atol=1e-3)

        wait_until(streamed_and_reached, 2.0, "hand to reach target", poll_s=0.02)
        assert cell.tactile.frame().force_n.shape == joints.TACTILE_SHAPE


def test_arm_move_to_blocks_until_there(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        goal = joints.UR5E_HOME_RAD + np.array([0.2, -0.1, 0.1, 0.0, 0.1, -0.2])
        cell.arm.move_to(goal, speed_rad_s=1.0)
        np.testing.assert_allclose(cell.arm.state().q_rad, goal, atol=1e-9)
        with pytest.raises(CommandRejected, match="outside"):
            cell.arm.move_to(np.full(6, 7.0))


def _stats(cell: Cell) -> dict[str, int]:
    return cell.nodes["cell"].call("", "stats")


def test_garbage_commands_are_counted_and_node_keeps_serving(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        good = np.clip(np.full(12, 0.5), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad)
        good_seq = cell.hand.command(good)
        cell.hand.wait_applied(good_seq)
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.linger = 0
        push.connect(cell.nodes["cell"].endpoints.command)
        before = _stats(cell)

        nan_q = good.copy()
        nan_q[0] = np.nan
        frames = frames_of(b"hand", hand_command_message(good, None, None, 10_000))
        q_bytes = split_header(frames)[1]["a"][0][3]
        hand_written = [
            with_inline_bytes(frames, 0, nan_q.tobytes()),  # NaN
            with_inline_bytes(frames, 0, q_bytes[:50]),  # truncated
            [frames[0], b"\x00" * (2 << 20)],  # oversized (2 MiB)
            with_header(frames, lambda h: h.update(v=42)),  # wrong schema version
            frames_of(b"hand", arm_servo_message(np.zeros(6), 10_002)),  # wrong message type for a hand
            frames_of(b"gripper", hand_command_message(good, None, None, 1)),  # unknown device
            frames_of(b"hand", hand_command_message(np.full(12, 3.0), None, None, 10_001)),  # beyond limits
        ]
        sent = 0
        for bad in hand_written:
            push.send_multipart(bad)
            sent += 1

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(st.binary(max_size=200), min_size=1, max_size=4))
        def send_garbage(parts: list[bytes]) -> None:
            nonlocal sent
            push.send_multipart(parts)
            sent += 1

        send_garbage()
        wait_until(lambda: _stats(cell)["received"] - before["received"] >= sent, 10.0, "node to take all frames")
        after = _stats(cell)
        # every frame is accounted for: refused, or (valid but stale) superseded by a newer one
        assert (after["rejected"] - before["rejected"]) + (after["superseded"] - before["superseded"]) == sent
        assert after["rejected"] - before["rejected"] >= sent - 2
        assert after["applied"] == before["applied"]
        # still serving, still holding the last safe target
        assert cell.nodes["cell"].call("", "ping")["node"] == "cell"
        state = cell.hand.state()
        assert state.cmd_seq == good_seq  # none of the bad commands was applied
        push.close()
        ctx.term()


def test_garbage_rpc_is_answered_or_dropped_not_fatal(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.connect(cell.nodes["cell"].endpoints.rpc)
        for parts in ([b"\xff\xfe"], [b"rpc\x00" + msgpack.packb({"v": 1})], [b"x"] * 3):
            dealer.send_multipart(parts)
        with pytest.raises(CommandRejected, match="unknown rpc method"):
            cell.nodes["cell"].call("hand", "self_destruct")
        with pytest.raises(CommandRejected, match="needs a device of kind"):
            cell.nodes["cell"].call("tactile", "move_to", {"q_rad": [0.0] * 6})
        wait_until(lambda: _stats(cell)["rejected"] >= 3, 2.0, "the three malformed calls to be counted")
        assert cell.nodes["cell"].call("", "ping")["node"] == "cell"
        dealer.close()
        ctx.term()


def test_sigkilled_node_raises_timeout_within_half_a_second(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        cell.arm.state()
        reference_node.kill(signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeoutError, match="no state"):
            while time.monotonic() - t0 < 5.0:
                cell.arm.state()
        assert time.monotonic() - t0 < 0.5


def test_watchdog_stops_arm_when_commands_stop(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as cell:
        start = cell.arm.state().q_rad
        goal = start + 2.0  # ~0.64 s away at pi rad/s: the watchdog (0.2 s) must cut it short
        cell.arm.servo(goal)
        t0 = time.monotonic()
        wait_until(lambda: cell.arm.state().mode == DeviceMode.STOPPED, 1.0, "watchdog stop")
        stopped_after = time.monotonic() - t0
        stop_state = cell.arm.state()
        assert stopped_after < 0.2 + 0.15
        assert (np.abs(stop_state.q_rad - start) < 2.0 - 0.3).all()
        later = wait_until(lambda: (s := cell.arm.state()).seq > stop_state.seq + 10 and s, 1.0, "later states")
        np.testing.assert_allclose(later.q_rad, stop_state.q_rad, atol=1e-9)  # stays stopped
        assert _stats(cell)["watchdog_stops"] >= 1


def test_emergency_stop_from_another_client(reference_node: NodeProcess) -> None:
    with _cell(reference_node) as operator, _cell(reference_node) as safety_officer:
        operator.arm.servo(operator.arm.state().q_rad + 0.01)
        safety_officer.emergency_stop()
        # the latch is set at the node at once; each device's published state shows it from its next sample
        for dev in (operator.arm, operator.hand):
            wait_until(lambda d=dev: d.state().mode == DeviceMode.EMERGENCY_STOP, 1.0, f"{dev.device} e-stop state")
        with pytest.raises(EmergencyStopActive):
            operator.arm.servo(operator.arm.state().q_rad)
        with pytest.raises(EmergencyStopActive):
            operator.hand.command(operator.hand.state().q_rad)
        safety_officer.arm.release_emergency_stop()
        safety_officer.hand.release_emergency_stop()
        wait_until(lambda: operator.hand.state().mode != DeviceMode.EMERGENCY_STOP, 1.0, "hand e-stop released")
        seq = operator.hand.command(operator.hand.state().q_rad)
        assert operator.hand.wait_applied(seq).mode == DeviceMode.SERVOING


def _scripted_run(node: NodeProcess) -> list[np.ndarray]:
    with _cell(node) as cell:
        assert cell.config.lockstep
        out = []
        q0 = cell.arm.state().q_rad
        for i in cell.clock.ticks(25):
            cell.hand.command(np.clip(np.full(12, 0.06 * i), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad))
            cell.arm.servo(q0 + 0.01 * np.sin(0.3 * i))
            out.append(
                np.concatenate([cell.arm.state().q_rad, cell.hand.state().q_rad, cell.tactile.frame().force_n.ravel()])
            )
        return out


def test_lockstep_runs_are_bit_identical() -> None:
    runs = []
    for _ in range(2):
        base = free_base_port()
        node = start_node(
            REFERENCE_CELL, "cell", [f"nodes.cell.base_port={base}", "cell.lockstep=true", "nodes.cell.params.seed=7"]
        )
        try:
            runs.append(_scripted_run(node))
        finally:
            node.kill(signal.SIGTERM)
    assert len(runs[0]) == 25
    assert np.abs(runs[0][-1][:18] - runs[0][0][:18]).max() > 0.1  # something moved
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_curve_authenticated_node(tmp_path: Path) -> None:
    generate_cell_keys(tmp_path, ["cell"])
    base = free_base_port()
    overrides = [f"nodes.cell.base_port={base}", f'cell.curve_dir="{tmp_path}"']
    node = start_node(REFERENCE_CELL, "cell", overrides)
    try:
        with Cell.connect(REFERENCE_CELL, overrides) as cell:
            assert cell.arm.state().q_rad.shape == (6,)
        # a client with a key the node does not know is never answered
        stranger = tmp_path / "stranger"
        generate_cell_keys(stranger, ["cell"])
        shutil.copy(tmp_path / "node" / "cell.key", stranger / "client" / "cell.key")  # the real node's public key
        with pytest.raises(DeviceTimeoutError):
            Cell.connect(REFERENCE_CELL, [*overrides[:1], f'cell.curve_dir="{stranger}"'], connect_timeout_s=0.5)
    finally:
        node.kill(signal.SIGTERM)
