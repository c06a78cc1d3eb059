"""Normalisation from the data: sparse taxels keep their contacts, actions map to [-1, 1] and back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from policies.bc.normalise import OBS_CLIP, TACTILE_MIN_SPAN_N, Normaliser, RangeNorm, robust_range


def _fit(q: np.ndarray, tactile: np.ndarray, action: np.ndarray) -> Normaliser:
    return Normaliser.fit([(q, tactile, action)], len(q))


def test_a_taxel_touched_in_one_percent_of_frames_is_not_saturated() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    tactile = np.zeros((n, 4), np.float32)
    touched = rng.random(n) < 0.01
    tactile[touched, 0] = rng.uniform(0.05, 3.0, touched.sum())  # sparse: p2 = p98 = 0
    tactile[:, 1] = rng.uniform(0.0, 2.0, n)  # dense
    norm = _fit(rng.normal(size=(n, 18)), tactile, rng.normal(size=(n, 18))).tactile
    assert norm is not None
    y = norm.normalise(tactile)
    sparse = y[touched, 0]
    assert sparse.max() <= 1.0 + 1e-6 and y[~touched, 0].max() == pytest.approx(-1.0)
    assert np.all(np.diff(sparse[np.argsort(tactile[touched, 0])]) > 0)  # contacts stay distinct, in order
    # the percentile rule alone (span 0 -> 1, as the authors do) sends these contacts into the clip
    authors = np.clip((tactile[touched, 0] - 0.0) * 2.0, -OBS_CLIP, OBS_CLIP)
    assert (authors == OBS_CLIP).mean() > 0.4
    # a dense channel keeps its robust p2-p98 range
    assert norm.lo[1] == pytest.approx(np.percentile(tactile[:, 1], 2), rel=1e-3)
    assert norm.hi[1] == pytest.approx(np.percentile(tactile[:, 1], 98), rel=1e-3)


def test_a_never_touched_taxel_gets_the_physical_floor() -> None:
    lo, hi = robust_range(np.zeros((100, 1)), np.zeros(1), np.zeros(1), TACTILE_MIN_SPAN_N)
    assert hi[0] - lo[0] == pytest.approx(TACTILE_MIN_SPAN_N)
    assert RangeNorm(lo, hi, OBS_CLIP).normalise(np.array([0.0]))[0] == pytest.approx(0.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (30, 3), elements=st.floats(-5, 5)))
def test_actions_span_minus_one_to_one_and_map_back(actions: np.ndarray) -> None:
    norm = _fit(np.zeros((30, 18)), np.zeros((30, 2)), np.tile(actions, (1, 6))).action
    y = norm.normalise(np.tile(actions, (1, 6)))
    assert y.min() >= -1 - 1e-9 and y.max() <= 1 + 1e-9
    np.testing.assert_allclose(norm.denormalise(y), np.tile(actions, (1, 6)), atol=1e-9)


def test_normaliser_round_trips_through_its_dict() -> None:
    rng = np.random.default_rng(1)
    n = _fit(rng.normal(size=(50, 18)), rng.random((50, 1800)), rng.normal(size=(50, 18)))
    back = Normaliser.from_dict(n.to_dict())
    x = rng.normal(size=(4, 1800))
    assert back.tactile is not None and n.tactile is not None
    np.testing.assert_array_equal(back.tactile.normalise(x), n.tactile.normalise(x))
    assert n.to_dict()["frames"] == 50


def test_a_layout_written_before_the_action_frame_reads_as_absolute_and_a_bad_frame_is_refused() -> None:
    from policies.bc.layout import BCError, BCLayout

    d = BCLayout().to_dict()
    assert d["action_frame"] == "relative"
    del d["action_frame"]
    assert BCLayout.from_dict(d).action_frame == "absolute"
    with pytest.raises(BCError, match=r"action_frame must be one of \['relative', 'absolute'\], got 'delta'"):
        BCLayout(action_frame="delta")
