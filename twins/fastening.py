"""The thread, the seat and the screw of the full twin, as plain state (no engine calls).

The scene (twins/scene.py) reads the engine and feeds this state; this state says what the engine
must do next: the thread's friction torque, whether the object sits on its end stop, how hard the
screwdriver's blade is held in the slot. Physical reasons for each term are in docs/twins.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twins import rl_recipe

GRAVITY_M_S2 = rl_recipe.GRAVITY_M_S2
FASTENED_TOLERANCE_TURNS = 0.02  # fastened = turns >= turns_required - this
STOP_RELEASE_RAD = 0.01  # hysteresis: a seated object leaves the stop only when turned back this far


@dataclass(frozen=True)
class ThreadParams:
    # The simplified RL world's object friction is coefficient x |the joint's non-contact load| (PhysX's
    # articulation friction, reference xhand_left.md item 6): 0.2 x m x g. The nominal grasp pays that.
    friction_coefficient: float = rl_recipe.OBJECT_FRICTION_COEFF
    misalign_friction_nm_per_rad: float = 1.5  # object axis tilted in the palm frame vs the nominal grasp
    offset_friction_nm_per_m: float = 200.0  # nut axis pushed sideways in the palm frame (loads the flanks)
    engage_friction_nm_per_m: float = 2000.0  # the nut gone down the bolt without the fingers following
    engage_slack_m: float = 0.001  # the fingers may lag the nut by this much before friction rises
    max_friction_nm: float = 6.0
    seat_stop_nm: float = 20.0  # the seat face: far above anything the fingers (<= 1.1 N m a joint) give
    seat_tolerance_m: float = 0.002  # a handle lifted more than this off the screw is not driving it
    seat_tilt_rad: float = float(np.deg2rad(15.0))  # nor one tilted more than this
    bit_friction: float = 0.3  # steel blade on steel slot walls
    bit_radius_m: float = 0.0025  # lever arm of the blade's contact in the slot
    assist_nm: float = 3.0  # the scripted assist's fastening torque (World.perturb("assist_turn"))
    stall_turns: float = 0.05  # less forward progress over the window is a stall (a squeezed nut creeps 0.03 in 7 s)
    stall_window_nut_s: float = 3.5  # the method's stagnation windows (nut 3.5 s, handle 3 s)
    stall_window_handle_s: float = 3.0

    def base_friction_nm(self, mass_kg: float) -> float:
        """The RL world's law with the object's weight as the joint's only non-contact load."""
        return rl_recipe.object_friction_nm(self.friction_coefficient, mass_kg * GRAVITY_M_S2)


class FastenState:
    """What the thread and the seat have done so far, updated once per control period."""

    def __init__(
        self,
        task: str,
        params: ThreadParams,
        pitch_m: float,
        turns_required: float,
        mass_kg: float,
        ref_axis: np.ndarray,
        ref_centre_m: np.ndarray,
        ref_gap_m: float,
        pivot_below_grasp_m: float = 0.0,
    ) -> None:
        """`pivot_below_grasp_m`: the screwdriver's blade tip below the grasp point (0 for a nut)."""
        self.task, self.params = task, params
        self.pivot_below_grasp_m = pivot_below_grasp_m
        self.pitch_m, self.turns_required = pitch_m, turns_required
        self.base_nm = params.base_friction_nm(mass_kg)
        self.friction_nm = self.base_nm
        self.ref_axis, self.ref_centre_m, self.ref_gap_m = ref_axis, ref_centre_m, ref_gap_m
        self.turn_offset_rad = 0.0  # handle turns while slipping (screwdriver)
        self.screw_depth_m = 0.0
        self.unseated = False
        self.at_stop = False
        self._best_turns, self._progress_s = 0.0, 0.0

    def turns(self, angle_rad: float) -> float:
        """Turns done at `angle_rad`: the nut's own, or the screw's (it follows the seated blade)."""
        if self.task == "nut":
            return angle_rad / (2 * np.pi)
        if self.unseated:
            return self.screw_depth_m / self.pitch_m
        return float(np.clip((angle_rad - self.turn_offset_rad) / (2 * np.pi), 0.0, self.turns_required))

    def fastened(self, turns: float) -> bool:
        return turns >= self.turns_required - FASTENED_TOLERANCE_TURNS

    def misalignment(self, axis: np.ndarray, centre_m: np.ndarray) -> tuple[float, float]:
        """(angle rad, sideways offset m) of the object's axis in the palm frame vs the nominal grasp.

        Zero whatever the grasp's own tilt: only a hand (or nut) that has moved off the nominal grasp
        loads the thread sideways. Sliding along the axis is the engagement lag, counted separately."""
        angle = float(np.arccos(np.clip(axis @ self.ref_axis, -1.0, 1.0)))
        d = centre_m - self.ref_centre_m
        return angle, float(np.linalg.norm(d - (d @ self.ref_axis) * self.ref_axis))

    def thread_misalignment(self, axis: np.ndarray, centre_m: np.ndarray) -> tuple[float, float]:
        """(tilt rad, sideways offset m) as the thread feels them. A nut is held on the bolt, so the
        hand shifting it sideways presses it on the flanks. A screwdriver pivots about its blade in the
        slot: the same shift of the hand tilts the shaft by atan(offset / pivot distance) and loads
        nothing sideways (the twin's handle axis stays vertical, so the tilt is computed, not simulated).
        The two tilts are added: an upper bound on their vector sum."""
        tilt, offset = self.misalignment(axis, centre_m)
        if self.task == "nut":
            return tilt, offset
        return tilt + float(np.arctan2(offset, self.pivot_below_grasp_m)), 0.0

    def update(
        self, angle_rad: float, travel_m: float, axis: np.ndarray, centre_m: np.ndarray, gap_m: float, time_s: float
    ) -> None:
        """Friction from misalignment and engagement; the screw's progress; stall bookkeeping."""
        p = self.params
        tilt, offset = self.thread_misalignment(axis, centre_m)
        friction = self.base_nm + p.misalign_friction_nm_per_rad * tilt + p.offset_friction_nm_per_m * offset
        if self.task == "nut":
            lag = gap_m - self.ref_gap_m  # the palm above where it gripped: the fingers have not followed
            friction += p.engage_friction_nm_per_m * max(0.0, lag - p.engage_slack_m)
        else:
            lifted = travel_m + self.screw_depth_m
            self.unseated = not (lifted < p.seat_tolerance_m and tilt < p.seat_tilt_rad)
            full = self.turns_required * self.pitch_m
            if self.unseated:  # slipping: the blade spins freely in the slot
                self.turn_offset_rad = angle_rad - self.screw_depth_m / self.pitch_m * 2 * np.pi
                self.at_stop = False
                friction = 0.01
            else:  # the screw follows the shaft's turns and goes down with the pitch, up to its seat
                depth = (angle_rad - self.turn_offset_rad) / (2 * np.pi) * self.pitch_m
                self.screw_depth_m = float(np.clip(depth, 0.0, full))
        self.friction_nm = float(min(friction, p.max_friction_nm))
        turns = self.turns(angle_rad)
        if turns > self._best_turns + p.stall_turns:
            self._best_turns, self._progress_s = turns, time_s

    def _seat_angle(self) -> float:
        return self.turn_offset_rad + 2 * np.pi * self.turns_required

    def stop_angle(self, angle_rad: float) -> float | None:
        """Every physics step: the angle the end stop holds, or None while the object is free to turn."""
        if self.unseated:
            self.at_stop = False
            return None
        seat = self._seat_angle()
        if angle_rad >= seat:
            self.at_stop = True
        elif angle_rad < seat - STOP_RELEASE_RAD:
            self.at_stop = False
        return seat if self.at_stop else None

    def moved(self, angle_rad: float) -> None:
        """The object was placed by hand (a perturbation): the stop re-engages only if it is still there, and
        turning forward again from where it was put counts as progress."""
        self.stop_angle(angle_rad)
        if self.task == "screwdriver" and not self.unseated:
            depth = (angle_rad - self.turn_offset_rad) / (2 * np.pi) * self.pitch_m
            self.screw_depth_m = float(np.clip(depth, 0.0, self.turns_required * self.pitch_m))
        self._best_turns = min(self._best_turns, self.turns(angle_rad))

    def slot_hold_n(self) -> float:
        """The seated blade's axial hold: the torque it transmits presses it on the slot walls with
        T / r, and that contact's friction resists pulling it out (0 = free along the axis)."""
        if self.task != "screwdriver" or self.unseated:
            return 0.0
        return self.params.bit_friction * self.friction_nm / self.params.bit_radius_m

    def stalled(self, time_s: float, turns: float) -> bool:
        """Not fastened, and no forward progress of `stall_turns` within the method's stagnation window."""
        window = self.params.stall_window_nut_s if self.task == "nut" else self.params.stall_window_handle_s
        return not self.fastened(turns) and time_s - self._progress_s >= window
