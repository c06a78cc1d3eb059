"""Integration: the shipped skills turn the nut and drive the screw in the full twin, arm held still, through a node."""

from __future__ import annotations

from pathlib import Path

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.skills.skill import Skill

REPO = Path(__file__).resolve().parents[2]


def test_shipped_nut_skill_fastens_with_the_arm_held_still(cell: Cell) -> None:
    cell.world.reset("nut", "triangular", seed=0)
    q_arm = cell.arm.state().q_rad
    skill = Skill.load(REPO / "policies" / "skills" / "nut")
    stats = skill.run(cell.hand, cell.clock, duration_s=15.0)
    turns = cell.world.progress().turns_done
    assert stats.nan_actions == 0
    assert abs(cell.arm.state().q_rad - q_arm).max() < 0.01  # held still (the servo yields a few mrad)
    # Measured 0.39 turns in 15 s here (0.1-0.8 in-process over randomised seeds); below 0 before the
    # grasp pose matched the RL world's and the thread's friction stopped charging for the grasp's tilt.
    assert turns > 0.07, turns


def test_shipped_screwdriver_skill_drives_the_screw_with_the_arm_held_still(cell: Cell) -> None:
    cell.world.reset("screwdriver", "octagon", seed=0)
    q_arm = cell.arm.state().q_rad
    skill = Skill.load(REPO / "policies" / "skills" / "screwdriver")
    stats = skill.run(cell.hand, cell.clock, duration_s=15.0)
    turns = cell.world.progress().turns_done
    assert stats.nan_actions == 0
    assert abs(cell.arm.state().q_rad - q_arm).max() < 0.01
    # Measured 3.17 screw turns in 15 s in-process (3.14 on the dodecagon, 0.26 on the unseen pentagon);
    # 0.03 before the seated blade was held in the slot: the fingers lifted the handle off the screw.
    assert turns > 1.0, turns
