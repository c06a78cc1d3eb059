"""What one lockstep control step costs on the bus: the tick brings the World's progress, reads republish nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.messages import state_topic
from tests.conftest import connected_twin_cell, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cell() -> Iterator[Cell]:
    for c in connected_twin_cell():
        assert c.config.lockstep
        yield c


def _count_calls(cell: Cell, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    client = cell.world.node
    calls: list[str] = []
    real = client.call

    def counting(device: str, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return real(device, method, *args, **kwargs)

    monkeypatch.setattr(client, "call", counting)
    return calls


def test_progress_after_a_tick_comes_with_the_tick_and_equals_a_progress_call(
    cell: Cell, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell.world.reset("nut", "triangular", seed=0)
    calls = _count_calls(cell, monkeypatch)
    cell.hand.command(cell.hand.limits.clip(cell.hand.state().q_rad))
    cell.clock.wait()
    from_tick = cell.world.progress()
    assert calls == ["tick"], "the progress read after a tick must not be a call of its own"
    from_call = cell.world.progress()  # read once: the second read asks the node
    assert calls == ["tick", "progress"]
    assert from_tick == from_call and from_tick.time_s > 0


def test_a_world_call_after_the_tick_drops_the_progress_the_tick_brought(
    cell: Cell, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell.world.reset("nut", "triangular", seed=0)
    for _ in range(5):
        cell.clock.wait()
    cell.world.perturb("counter_rotate")  # the world moved after the tick: its progress is stale
    calls = _count_calls(cell, monkeypatch)
    after = cell.world.progress()
    assert calls == ["progress"]
    assert after.turns_done == pytest.approx(-0.25, abs=0.02)


def test_reading_progress_republishes_no_state_and_a_tick_names_every_state(cell: Cell) -> None:
    client = cell.world.node
    progress = client.rpc.request("world", "progress")
    assert progress.fields["published"] == {}
    tick = client.rpc.request("", "tick", {"periods": 1, "after": {}})
    assert set(tick.fields["published"]) == {"arm", "hand", "tactile"}
    assert set(tick.fields["result"]) == {"sim_time_s", "progress"}
    assert set(tick.fields["result"]["progress"]) == {"world"}


def test_an_idle_lockstep_node_still_publishes_every_state_for_liveness(cell: Cell) -> None:
    client = cell.world.node
    client._pump(0.0)
    before = {d: client.sub.latest[state_topic(d)].seq for d in ("arm", "hand", "tactile")}
    for device, seq in before.items():  # no call, no tick: only the heartbeat publishes
        topic = state_topic(device)

        def newer(topic: bytes = topic, seq: int = seq) -> bool:
            client._pump(0.01)
            return client.sub.latest[topic].seq > seq

        wait_until(newer, timeout_s=5.0, what=f"{device} heartbeat")


def test_between_ticks_a_command_shows_in_the_state_and_in_the_next_ticks_states(cell: Cell) -> None:
    cell.world.reset("nut", "triangular", seed=0)
    q = cell.hand.limits.clip(cell.hand.state().q_rad)
    seq = cell.hand.command(q)
    assert cell.hand.wait_applied(seq, timeout_s=5.0).cmd_seq == seq  # no tick needed
    seq = cell.hand.command(q)
    cell.clock.wait()
    assert cell.hand.state().cmd_seq == seq  # the tick's own states carry it, no waiting
