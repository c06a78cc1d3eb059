"""The one joint-order map and the skill layout facts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dexscrew_sdk import joints
from dexscrew_sdk.skills import layout


def test_policy_order_names_match_the_canonical_names() -> None:
    for i, sdk_index in enumerate(layout.POLICY_FROM_SDK):
        assert joints.HAND_JOINT_NAMES[sdk_index] == layout.POLICY_JOINT_NAMES[i]


@given(arrays(np.float64, (4, 12), elements=st.floats(-10, 10)))
def test_reordering_round_trips(x: np.ndarray) -> None:
    np.testing.assert_array_equal(layout.to_sdk(layout.to_policy(x)), x)
    np.testing.assert_array_equal(layout.to_policy(x)[:, 0], x[:, 3])  # policy index_bend = sdk[3]


def test_masks_initial_targets_and_limits() -> None:
    assert [joints.HAND_JOINT_NAMES[i] for i in np.flatnonzero(layout.mask_sdk("screwdriver"))] == [
        "pinky_j1",
        "pinky_j2",
    ]
    assert layout.mask_sdk("nut").sum() == 4
    lo, hi = layout.limits_sdk(joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
    assert (lo >= joints.XHAND_LOWER_RAD).all() and (hi <= joints.XHAND_UPPER_RAD).all() and (lo <= hi).all()
    assert lo[0] == 0.6 and hi[0] == 1.73  # thumb_bend narrowed as the authors do
    for task in layout.TASKS:
        init = layout.init_targets_sdk(task)
        assert init[0] == layout.OFFICIAL_INIT_POLICY[task][9]  # thumb_bend
        assert np.all(np.clip(init, lo, hi) - init <= 0.01)  # within limits up to the index_bend rounding
