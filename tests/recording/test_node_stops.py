"""A real node that dies mid-episode: the episode is closed and marked, its last rows are what was
really read (flagged late), and nothing is padded after it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import DeviceTimeoutError
from dexscrew_sdk.recording import EpisodeMeta, Recorder, SampleFlag, SourceStoppedError, StepRecord
from dexscrew_sdk.recording.dataset import Dataset
from tests.conftest import NodeProcess

KILL_AT = 10


@pytest.mark.integration
def test_a_node_killed_mid_episode_ends_the_episode_marked_and_unpadded(
    reference_node: NodeProcess, tmp_path: Path
) -> None:
    how = ""
    with Cell.connect(reference_node.config, reference_node.overrides) as cell, Recorder(tmp_path / "ds") as rec:
        meta = EpisodeMeta("nut", "square", cell.config.name, "reference", 1.0 / cell.clock.period_s)
        ep = rec.begin(meta)
        q_arm, q_hand = cell.arm.state().q_rad.copy(), cell.hand.state().q_rad.copy()
        for i in cell.clock.ticks(400):  # bounded: 20 s at 20 Hz
            if i == KILL_AT:
                reference_node.kill()
            try:
                arm, hand, touch = cell.arm.state(), cell.hand.state(), cell.tactile.frame()
            except DeviceTimeoutError as exc:  # the proxy noticed first: the session says so
                ep.source_stopped("arm", str(exc))
                how = "session"
                break
            step = StepRecord(i, time.monotonic_ns(), q_hand, q_arm, arm, hand, touch, clock_time_s=cell.clock.now())
            try:
                ep.append(step)
            except SourceStoppedError:  # the recorder noticed first, from the stamps
                how = "recorder"
                break
            if i < KILL_AT:
                cell.arm.servo(q_arm)
                cell.hand.command(q_hand)
    assert how, "the loop ran 400 steps without noticing that the node died"
    e = Dataset(tmp_path / "ds")[0]
    assert e.meta["end_reason"] == "source_stopped" and e.meta["success"] is None
    assert KILL_AT <= len(e) <= i + 1  # no row after the stop
    after = slice(KILL_AT + 1, None)
    assert len(set(e["arm_seq"][after])) <= 1  # nothing new arrived: the real last sample, not padding
    stale = e["stamp_ns"] - e["arm_stamp_ns"] > 50_000_000
    np.testing.assert_array_equal(stale.astype(bool), (e["sample_flags"] & SampleFlag.ARM_LATE).astype(bool))
