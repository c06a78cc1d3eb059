"""Integration: the shipped skills turn the nut and drive the screw in the full twin, arm held still, through a node."""

from __future__ import annotations

import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.demo import skill_session


# Measured through this node (the same figures as `dexscrew bench rl`'s full_twin_skill_*_turns_nominal):
# nut 0.95 turns in 15 s (the fine-tuned skill; 0.29 before), screwdriver 1.94 screw turns. These are chaotic
# in the contact sequence: a 1-ulp change of the hand's velocity gain moved them from 0.39 and 3.17. Hence the
# thresholds far below them.
# The servoed arm yields to the fingers pressing on the fixed nut: up to 0.03 rad during a session (0.004
# for the screwdriver), whatever the final value happens to be.
@pytest.mark.parametrize(("task", "shape", "min_turns"), [("nut", "triangular", 0.3), ("screwdriver", "octagon", 1.0)])
def test_shipped_skill_fastens_with_the_arm_held_still(cell: Cell, task: str, shape: str, min_turns: float) -> None:
    summary = skill_session(cell, task, shape, duration_s=15.0)
    assert summary["skill_steps"] == 300 and summary["nan_actions"] == 0
    assert summary["arm_drift_rad"] < 0.05, summary  # held still (see above)
    assert summary["turns_done"] > min_turns, summary
