"""NodeClient bookkeeping that lockstep ticks rely on."""

from __future__ import annotations

import numpy as np

from dexscrew_sdk.bus import Endpoints
from dexscrew_sdk.messages import hand_command_message
from dexscrew_sdk.ports import free_base_port
from dexscrew_sdk.remote import NodeClient


def test_a_dropped_command_is_not_named_by_the_next_tick() -> None:
    """No node listening: commands queue up to the socket's limit, then the non-blocking send drops them;
    the client must keep naming the last one that went out, not the dropped one."""
    client = NodeClient(Endpoints(base_port=free_base_port()), ["hand"])
    try:
        seq = 0
        while client.cmd.dropped == 0 and seq < 100_000:
            seq += 1
            client.send_command("hand", hand_command_message(np.zeros(12), None, None, seq=seq))
        assert client.cmd.dropped == 1, "the queue never filled"
        assert client.sent_seq["hand"] == seq - 1
    finally:
        client.close()
