"""A simulated arm's states: the TCP pose is always forward kinematics of the q it reports."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dexscrew_sdk import kinematics
from dexscrew_sdk.reference import KinematicCell

qs = hnp.arrays(np.float64, 6, elements=st.floats(-3.0, 3.0))
# how the next state's inputs come about: a new q array, the same q again, q changed in place, a new offset
changes = st.lists(
    st.one_of(
        st.tuples(st.just("new_q"), qs),
        st.tuples(st.just("same"), st.none()),
        st.tuples(st.just("in_place"), qs),
        st.tuples(st.just("offset"), hnp.arrays(np.float64, 6, elements=st.floats(-0.2, 0.2))),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(changes=changes)
def test_every_state_carries_the_forward_kinematics_of_its_own_q(changes: list[tuple[str, np.ndarray | None]]) -> None:
    arm = KinematicCell().arm
    previous = None
    for kind, value in changes:
        if kind == "new_q":
            arm.q = value.copy()
        elif kind == "in_place":
            arm.q[:] = value
        elif kind == "offset":
            arm.tcp_offset = value.copy()
        s = arm.state()
        assert s.tcp_pose.tobytes() == kinematics.forward(s.q_rad, arm.tcp_offset).tobytes()
        assert not s.tcp_pose.flags.writeable  # a state is immutable, and shares no pose with the one before
        assert previous is None or not np.shares_memory(s.tcp_pose, previous)
        previous = s.tcp_pose
