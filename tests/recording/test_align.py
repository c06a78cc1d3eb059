"""Alignment by timestamp: the latest sample at or before the step time, whatever the arrival order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexscrew_sdk.recording import Aligner, StepRecordError, align_stamps

PERIOD_NS = 50_000_000

stamps = st.lists(st.integers(1, 2_000_000_000), min_size=0, max_size=40, unique=True)


def _brute(samples: list[int], t: int) -> int:
    before = [i for i, s in enumerate(samples) if s <= t]
    return max(before, key=lambda i: samples[i]) if before else -1


@settings(max_examples=60, deadline=None)
@given(samples=stamps, steps=st.lists(st.integers(0, 2_100_000_000), min_size=1, max_size=20), seed=st.integers(0, 99))
def test_each_step_takes_the_latest_sample_at_or_before_it_in_any_arrival_order(
    samples: list[int], steps: list[int], seed: int
) -> None:
    order = np.random.default_rng(seed).permutation(len(samples))
    al = Aligner(PERIOD_NS / 1e9)
    for i in order:  # arrival order is shuffled: it must not matter
        al.push("tactile", samples[i], seq=int(i), value=f"sample {i}")
    idx, late, missing = align_stamps(np.array(samples, dtype=np.int64), np.array(steps), PERIOD_NS)
    for k, t in enumerate(steps):
        want = _brute(samples, t)
        got = al.at("tactile", t)
        assert idx[k] == want and missing[k] == (want < 0) and got.missing == (want < 0)
        if want >= 0:
            assert got.seq == want and got.value == f"sample {want}" and got.stamp_ns == samples[want]
            assert late[k] == got.late == (t - samples[want] > PERIOD_NS)


def test_a_sample_after_the_step_is_never_used_and_an_old_one_is_late() -> None:
    al = Aligner(0.05)
    al.push("arm", 1_000_000_000, 1, "a")
    al.push("arm", 1_100_000_000, 2, "b")  # arrived, but stamped after the step below
    s = al.at("arm", 1_060_000_000)
    assert (s.value, s.late, s.missing) == ("a", True, False)
    assert al.at("hand", 1_060_000_000).missing


def test_the_buffer_keeps_the_newest_samples() -> None:
    al = Aligner(0.05, capacity=3)
    for i in range(10):
        al.push("arm", 1000 + i, i, i)
    assert al.at("arm", 10**9).seq == 9 and al.at("arm", 1006).missing


def test_bad_aligner_settings_are_refused() -> None:
    with pytest.raises(StepRecordError, match="period_s"):
        Aligner(0.0)
    with pytest.raises(StepRecordError, match="capacity"):
        Aligner(0.05, capacity=0)
