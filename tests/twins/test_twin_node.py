"""Integration: a twin node process driven only through Cell.connect and the Remote* interfaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.errors import ConfigError, DexscrewError
from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld
from twins.bullet import official_init_canonical

PITCH_M = 0.00175


def _ticks(cell: Cell, n: int) -> None:
    for _ in range(n):
        cell.clock.wait()


def _hold(cell: Cell) -> None:
    """Reset to the nominal nut and keep the fingers on their initial targets."""
    cell.world.reset("nut", "triangular", seed=0)
    cell.hand.command(official_init_canonical("nut"))
    _ticks(cell, 10)


def _turn(cell: Cell, seconds: int, follow: bool) -> float:
    """Assist the turning; with follow, the arm follower lowers the wrist with the nut (pitch x turns)."""
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), PITCH_M)
    follower.start()
    q0 = cell.arm.state().q_rad
    start = cell.world.progress().turns_done
    for _ in range(seconds):
        cell.world.perturb("assist_turn")
        for _ in range(20):
            if follow:
                follower.step()
            else:
                cell.arm.servo(q0)
            cell.clock.wait()
    return cell.world.progress().turns_done - start


def _relax(cell: Cell) -> None:
    """Back the thumb (end-on it wedges the nut), index and middle off: the assist torque alone turns it."""
    q = official_init_canonical("nut")
    q[1:3] -= 0.3
    q[4:8] -= 0.1
    cell.hand.command(q)
    _ticks(cell, 2)


def test_nut_turns_when_the_arm_follows_and_stalls_when_static(cell: Cell) -> None:
    _hold(cell)
    _relax(cell)
    static = _turn(cell, 12, follow=False)
    _hold(cell)
    _relax(cell)
    followed = _turn(cell, 12, follow=True)
    assert followed > 1.5, followed
    assert static < 0.75 * followed, (static, followed)


def test_tactile_shows_contact_where_fingers_touch(cell: Cell) -> None:
    _hold(cell)
    force = cell.tactile.frame().force_n
    assert force.shape == (5, 120, 3)
    normal = force[:, :, 2].sum(axis=1)
    assert normal[0] > 0.1 and normal[1] > 0.1, normal  # thumb and index hold the nut (as in the RL world)
    assert np.all(force[3:] == 0.0)  # ring and pinky are extended, away from it


def test_perturbations(cell: Cell) -> None:
    _hold(cell)
    before = cell.world.progress().turns_done
    cell.world.perturb("counter_rotate")
    assert cell.world.progress().turns_done == pytest.approx(before - 0.25, abs=0.02)
    q_hold = cell.hand.state().q_rad
    cell.world.perturb("drag_fingers")
    _ticks(cell, 1)
    dragged = np.abs(cell.hand.state().q_rad - q_hold).max()
    _ticks(cell, 20)
    recovered = np.abs(cell.hand.state().q_rad - q_hold).max()
    assert dragged > 0.3 and recovered < 0.5 * dragged, (dragged, recovered)
    with pytest.raises(DexscrewError, match="counter_rotate"):
        cell.world.perturb("shake")


def test_lockstep_runs_are_bit_identical(cell: Cell) -> None:
    def run() -> list[np.ndarray]:
        cell.world.reset("nut", "square", seed=7, randomisation={"enabled": True})
        q = official_init_canonical("nut")
        out = []
        for k in range(15):
            cell.hand.command(np.clip(q + 0.05 * np.sin(k), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad))
            cell.clock.wait()
            out += [cell.hand.state().q_rad, cell.arm.state().q_rad, cell.tactile.frame().force_n]
        return out

    a, b = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_invalid_task_and_shape_name_the_choices(cell: Cell) -> None:
    with pytest.raises(ConfigError, match="screwdriver"):
        cell.world.reset("bolt", "triangular")
    with pytest.raises(ConfigError, match="hexagonal"):
        cell.world.reset("nut", "star")
    with pytest.raises(ConfigError, match="dodecagon"):
        cell.world.reset("screwdriver", "triangular")


def test_snapshot_writes_pngs(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "twin", "snapshot", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 4 and any("tactile" in p.name for p in pngs)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_states_read_right_after_a_reset_are_the_reset_cells(cell: Cell) -> None:
    """A world call rebuilds the whole cell: its reply must bring every device's new state, not only the world's."""
    cell.world.reset("nut", "triangular", seed=0)
    q_arm = cell.arm.state().q_rad.copy()
    cell.arm.servo(q_arm + 0.02)  # move away from the reset pose
    _ticks(cell, 10)
    assert np.abs(cell.arm.state().q_rad - q_arm).max() > 0.01
    cell.world.reset("nut", "triangular", seed=0)
    np.testing.assert_allclose(cell.arm.state().q_rad, q_arm, atol=1e-9)  # no tick in between
