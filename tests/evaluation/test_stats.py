"""Statistics of trials: bootstrap intervals and the "ahead" rule, as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexscrew_sdk.evaluation.stats import Summary, Verdict, bootstrap_ci, compare, summarise

ratios = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30)


@given(ratios, st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_the_interval_lies_within_the_data_and_is_ordered(values: list[float], seed: int) -> None:
    lo, hi = bootstrap_ci(values, seed=seed, resamples=300)
    assert min(values) <= lo <= hi <= max(values)


@given(ratios, st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_the_same_seed_gives_the_same_interval(values: list[float], seed: int) -> None:
    assert bootstrap_ci(values, seed=seed, resamples=200) == bootstrap_ci(values, seed=seed, resamples=200)


@given(ratios, st.floats(-100.0, 100.0, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_shifting_the_data_shifts_the_interval(values: list[float], shift: float) -> None:
    lo, hi = bootstrap_ci(values, resamples=200)
    lo2, hi2 = bootstrap_ci([v + shift for v in values], resamples=200)
    assert lo2 == pytest.approx(lo + shift, abs=1e-9) and hi2 == pytest.approx(hi + shift, abs=1e-9)


@given(st.floats(0.0, 1.0, allow_nan=False), st.integers(1, 20))
def test_identical_values_give_a_zero_width_interval_and_zero_spread(v: float, n: int) -> None:
    s = summarise([v] * n)
    assert s is not None and s.ci_low == s.ci_high == v and s.std == 0.0 and s.mean == pytest.approx(v)


def summaries() -> st.SearchStrategy[Summary]:
    return ratios.map(lambda v: summarise(v, seed=1))  # type: ignore[arg-type,return-value]


@given(summaries(), summaries())
@settings(max_examples=80, deadline=None)
def test_ahead_and_behind_are_mirror_images(a: Summary, b: Summary) -> None:
    mirror = {Verdict.AHEAD: Verdict.BEHIND, Verdict.BEHIND: Verdict.AHEAD, Verdict.OVERLAP: Verdict.OVERLAP}
    assert compare(b, a) == mirror[compare(a, b)]


@given(summaries(), summaries())
@settings(max_examples=80, deadline=None)
def test_ahead_needs_a_higher_mean_and_disjoint_intervals(a: Summary, b: Summary) -> None:
    verdict = compare(a, b)
    if verdict == Verdict.AHEAD:
        assert a.mean > b.mean and a.ci_low > b.ci_high
    if a.ci_low <= b.ci_high and b.ci_low <= a.ci_high:  # intervals touch or overlap
        assert verdict == Verdict.OVERLAP


def test_a_higher_mean_with_overlapping_intervals_is_an_overlap_not_a_win() -> None:
    a = summarise([0.9, 0.5, 1.0, 0.6])
    b = summarise([0.7, 0.6, 0.8, 0.5])
    assert a is not None and b is not None and a.mean > b.mean
    assert compare(a, b) == Verdict.OVERLAP


def test_clearly_separated_methods_are_ahead() -> None:
    assert compare(summarise([0.95, 1.0, 0.97, 0.99, 1.0]), summarise([0.2, 0.3, 0.25, 0.1, 0.3])) == Verdict.AHEAD


def test_missing_cells_compare_as_no_data() -> None:
    assert compare(None, summarise([1.0])) == Verdict.NO_DATA


def test_std_is_the_sample_standard_deviation() -> None:
    s = summarise([0.0, 1.0])
    assert s is not None and s.std == pytest.approx(math.sqrt(0.5)) and s.n == 2


def test_no_values_summarise_to_none_and_bad_values_are_refused() -> None:
    assert summarise([]) is None
    with pytest.raises(ValueError, match="finite"):
        summarise([0.5, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([0.1, 0.2], confidence=1.5)
