"""The thread, seat and screw state on plain numbers (no engine)."""

from __future__ import annotations

import numpy as np
import pytest

from twins.fastening import STOP_RELEASE_RAD, FastenState, ThreadParams

TURN = 2 * np.pi
AXIS = np.array([0.0, 0.0, 1.0])
CENTRE = np.zeros(3)


def _state(task: str = "nut") -> FastenState:
    return FastenState(task, ThreadParams(), 0.00175, 4.0, 0.05, AXIS, CENTRE, ref_gap_m=0.1)


def test_the_aligned_grasp_pays_only_the_base_friction_and_misalignment_adds() -> None:
    s = _state()
    s.update(0.0, 0.0, AXIS, CENTRE, 0.1, 0.0)
    assert s.friction_nm == pytest.approx(0.2 * 0.05 * 9.81)
    tilted = np.array([0.0, np.sin(0.1), np.cos(0.1)])
    s.update(0.0, 0.0, tilted, np.array([0.002, 0.0, 0.0]), 0.1, 0.05)
    assert s.friction_nm == pytest.approx(s.base_nm + 1.5 * 0.1 + 200.0 * 0.002, rel=1e-3)


def test_a_screwdriver_shifted_sideways_tilts_about_its_blade_instead_of_loading_the_thread() -> None:
    pivot = 0.045
    s = FastenState("screwdriver", ThreadParams(), 0.00175, 4.0, 0.056, AXIS, CENTRE, 0.1, pivot_below_grasp_m=pivot)
    shifted = np.array([0.0003, 0.0, 0.0])  # a 0.3 mm tremor of the wrist
    s.update(0.0, 0.0, AXIS, shifted, 0.1, 0.0)
    assert s.friction_nm == pytest.approx(s.base_nm + 1.5 * np.arctan(0.0003 / pivot), rel=1e-6)
    nut = _state()
    nut.update(0.0, 0.0, AXIS, shifted, 0.1, 0.0)
    assert nut.friction_nm == pytest.approx(nut.base_nm + 200.0 * 0.0003, rel=1e-6)  # held on the bolt
    s.update(0.0, 0.0, AXIS, np.array([0.0, pivot * np.tan(np.deg2rad(16.0)), 0.0]), 0.1, 0.05)
    assert s.unseated  # shifted so far that the shaft leans past the slot's 15 degrees


def test_a_wrist_left_behind_loads_the_thread_beyond_the_slack() -> None:
    s = _state()
    s.update(0.0, 0.0, AXIS, CENTRE, 0.1 + 0.0009, 0.0)  # within the 1 mm slack
    assert s.friction_nm == pytest.approx(s.base_nm)
    s.update(0.0, 0.0, AXIS, CENTRE, 0.1 + 0.003, 0.05)  # 2 mm past it
    assert s.friction_nm == pytest.approx(s.base_nm + 2000.0 * 0.002)
    s.update(0.0, 0.0, AXIS, CENTRE, 0.1 + 0.05, 0.1)
    assert s.friction_nm == ThreadParams().max_friction_nm


def test_the_stop_holds_at_the_seat_until_turned_back_past_it() -> None:
    s = _state()
    assert s.stop_angle(3.9 * TURN) is None
    assert s.stop_angle(4.0 * TURN + 0.001) == pytest.approx(4.0 * TURN)
    assert s.stop_angle(4.0 * TURN - STOP_RELEASE_RAD / 2) == pytest.approx(4.0 * TURN)  # still held
    s.moved(3.75 * TURN)  # a counter-rotation
    assert not s.at_stop and s.stop_angle(3.75 * TURN) is None


def test_a_nut_that_seats_between_two_progress_marks_is_not_stalled() -> None:
    s = _state()
    s.update(3.95 * TURN, 0.0, AXIS, CENTRE, 0.1, 1.0)  # a progress mark at 3.95 turns
    s.update(3.99 * TURN, 0.0, AXIS, CENTRE, 0.1, 1.5)  # +0.04: too little for a new mark
    assert s.fastened(3.99)
    assert not s.stalled(10.0, 3.99)
    assert s.stalled(10.0, 3.95)  # short of the seat, with no progress for 9 s


def test_the_screw_follows_a_seated_blade_and_stays_when_it_slips() -> None:
    s = _state("screwdriver")
    s.update(TURN, 0.0, AXIS, CENTRE, 0.1, 0.0)  # seated: one turn drives the screw one pitch
    assert s.screw_depth_m == pytest.approx(0.00175) and s.turns(TURN) == pytest.approx(1.0)
    s.update(3 * TURN, 0.01, AXIS, CENTRE, 0.1, 0.05)  # lifted 10 mm: the blade slips
    assert s.unseated and s.slot_hold_n() == 0.0
    assert s.screw_depth_m == pytest.approx(0.00175) and s.turns(3 * TURN) == pytest.approx(1.0)
    s.update(3 * TURN, -0.00175, AXIS, CENTRE, 0.1, 0.1)  # back in the slot: the screw goes on from there
    assert not s.unseated and s.turns(3 * TURN) == pytest.approx(1.0)
    s.update(4 * TURN, -0.0035, AXIS, CENTRE, 0.1, 0.15)
    assert s.turns(4 * TURN) == pytest.approx(2.0)
    assert s.slot_hold_n() == pytest.approx(0.3 * s.friction_nm / 0.0025)
