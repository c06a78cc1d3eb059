"""The append log as an attacker sees it: any truncation or flipped byte yields a clean prefix of steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dexscrew_sdk.recording import EpisodeFileError, Recorder
from dexscrew_sdk.recording.log import read_log
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps

N_STEPS = 12


@pytest.fixture(scope="module")
def log_bytes(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray]:
    root = tmp_path_factory.mktemp("log") / "ds"
    rec = Recorder(root)
    ep = rec.begin(synthetic_meta())
    for s in synthetic_steps(N_STEPS):
        ep.append(s)
    rec.close()  # the episode stays an unfinished log
    data = ep.log_path.read_bytes()
    return data, read_log(ep.log_path).rows


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 1.0), flip=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_damage_anywhere_leaves_an_intact_prefix(log_bytes, tmp_path_factory, cut: float, flip: float | None) -> None:
    data, rows = log_bytes
    damaged = bytearray(data[: int(len(data) * cut)])
    if flip is not None and damaged:
        damaged[min(int(len(damaged) * flip), len(damaged) - 1)] ^= 0x5A
    path: Path = tmp_path_factory.mktemp("damaged") / "episode_000000.log"
    path.write_bytes(bytes(damaged))
    try:
        got = read_log(path)
    except EpisodeFileError as exc:
        assert "header" in str(exc) or "not an episode log" in str(exc)  # only a damaged header is fatal
        return
    n = len(got.rows)
    assert n <= N_STEPS
    assert got.rows.tobytes() == rows[:n].tobytes()  # a prefix, bit for bit: nothing invented, nothing reordered
    if len(damaged) < len(data) or flip is not None:
        assert got.damage or n == N_STEPS or len(damaged) == got.valid_bytes


def test_a_flipped_frame_kind_ends_the_prefix_there(log_bytes, tmp_path: Path) -> None:
    from dexscrew_sdk.recording.log import FRAME

    data, rows = bytearray(log_bytes[0]), log_bytes[1]
    offset, frames = 0, []
    while offset < len(data):
        _, _, length, _ = FRAME.unpack_from(data, offset)
        frames.append(offset)
        offset += FRAME.size + length
    data[frames[4] + 4] ^= 0x5A  # the kind byte of the 4th step frame (frame 0 is the header)
    path = tmp_path / "episode_000000.log"
    path.write_bytes(bytes(data))
    got = read_log(path)
    assert got.rows.tobytes() == rows[:3].tobytes() and "checksum" in got.damage


garbage = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.integers(-5, 5),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20),
    st.lists(st.lists(st.floats(-1, 1), min_size=2, max_size=3), max_size=4),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hand=garbage, arm=garbage, rejected=garbage)
def test_garbage_in_a_step_is_refused_by_name_and_never_half_written(tmp_path_factory, hand, arm, rejected) -> None:
    from dataclasses import replace

    from dexscrew_sdk.recording import StepRecordError

    root = tmp_path_factory.mktemp("garbage") / "ds"
    good = list(synthetic_steps(3))
    rec = Recorder(root)
    ep = rec.begin(synthetic_meta())
    ep.append(good[0])
    try:
        ep.append(replace(good[1], hand_target_rad=hand, arm_target_rad=arm, arm_rejected_target_rad=rejected))
        accepted = 1
    except StepRecordError as exc:
        assert "hand_target_rad" in str(exc) or "arm_target_rad" in str(exc)
        accepted = 0
    ep.append(replace(good[2], step_index=5))
    rec.close()
    rows = read_log(ep.log_path).rows
    assert list(rows["step_index"]) == ([0, 1, 5] if accepted else [0, 5])
