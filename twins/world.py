"""TwinWorld: reset / perturb / ground-truth progress of the full twin (sim-only World interface).

The World acts on the physics only through the Scene (the engine layer) and reads the Scene's last
read-out; it never touches another device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import World
from dexscrew_sdk.records import DeviceInfo, TaskProgress
from twins import objects
from twins.faults import OPERATOR_ACTIONS
from twins.scene import TaskParams, nominal_contact_friction

if TYPE_CHECKING:
    from twins.scene import Scene

PERTURBATIONS: tuple[str, ...] = ("drag_fingers", "counter_rotate", "assist_turn")
# Randomisation ranges used when reset(..., randomisation={"enabled": True, ...}); any key may be overridden.
DEFAULT_RANDOMISATION: dict[str, Any] = {
    "friction": [0.7, 1.5],  # x the object's nominal contact friction (nut 1, handle 4)
    "mass_kg": [0.04, 0.06],
    "scale": [0.95, 1.05],
    "pose_m": 0.002,
    "tilt_deg": [20.0, 30.0],
    "tactile_noise_n": 0.01,
    "gain_scale": [0.9, 1.1],
}
ASSIST_DURATION_S = 1.0
DRAGGED_JOINTS = [1, 2, 4, 5, 6, 7]  # thumb rota1/2, index j1/j2, middle j1/j2 (canonical order)


class TwinWorld(World):
    def __init__(
        self,
        scene: Scene,
        rebuild: Callable[[TaskParams, int, float, float], None],
        refresh: Callable[[], None],
        operator: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._operator = operator  # the operator's hands: press a pad, take the hand out of its jig
        self._scene = scene
        self._rebuild = rebuild  # rebuilds the whole cell (every device holds the new scene)
        self._refresh = refresh  # every device re-reads the engine after a perturbation

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            "world",
            "twin-world",
            extra={"tasks": list(objects.TASKS), "perturbations": list(PERTURBATIONS + OPERATOR_ACTIONS)},
        )

    def reset(self, task: str, shape: str, seed: int = 0, randomisation: dict[str, Any] | None = None) -> None:
        """Rebuild the scene; randomisation None or {} = nominal, {"enabled": True, ...} = sampled."""
        geom = objects.twin_object(task, shape)  # names the valid choices on bad input
        rnd = dict(randomisation or {})
        unknown = set(rnd) - set(DEFAULT_RANDOMISATION) - {"enabled"}
        if unknown:
            raise ConfigError(f"unknown randomisation keys {sorted(unknown)}; valid: {sorted(DEFAULT_RANDOMISATION)}")
        now = self._scene.params  # the cell's thread (pitch, turns required); everything else nominal
        params = TaskParams(task, shape, now.pitch_m, now.turns_required, thread=now.thread, mass_kg=geom.mass_kg)
        noise, gain = 0.01, 1.0
        if rnd.pop("enabled", False):
            ranges = {**DEFAULT_RANDOMISATION, **rnd}
            r = np.random.default_rng(seed)
            params = replace(
                params,
                lateral_friction=nominal_contact_friction(task) * float(r.uniform(*ranges["friction"])),
                mass_kg=float(r.uniform(*ranges["mass_kg"])),
                scale=float(r.uniform(*ranges["scale"])),
                pose_offset_m=r.uniform(-1, 1, 3) * float(ranges["pose_m"]),
                tilt_rad=float(np.deg2rad(r.uniform(*ranges["tilt_deg"]))),
            )
            noise, gain = float(ranges["tactile_noise_n"]), float(r.uniform(*ranges["gain_scale"]))
        self._rebuild(params, int(seed), noise, gain)

    def perturb(self, kind: str) -> None:
        scene = self._scene
        if kind == "drag_fingers":  # pull thumb, index and middle open; the hand's controller brings them back
            q = scene.readout.hand_q_rad.copy()
            q[DRAGGED_JOINTS] = 0.0
            scene.set_hand_joints(q)
        elif kind == "counter_rotate":  # a quarter turn against the fastening direction (thread moves too)
            scene.rotate_object(-0.25)
        elif kind == "assist_turn":  # a bounded fastening torque for a while: a scripted stand-in for a skill
            scene.start_assist(ASSIST_DURATION_S)
        elif kind in OPERATOR_ACTIONS and self._operator is not None:
            self._operator(kind)
        else:
            raise ConfigError(f"unknown perturbation {kind!r}; choose one of {list(PERTURBATIONS + OPERATOR_ACTIONS)}")
        self._refresh()

    def progress(self) -> TaskProgress:
        """Read-only: the scene's last read-out. stalled = no progress over the stall window (not fastened);
        unseated = the screwdriver's blade out of its slot; seat_torque_nm = the seat stop's reaction;
        object_pose = where the object is (read-only, as an operator sees it)."""
        p, r = self._scene.params, self._scene.readout
        return TaskProgress(
            turns_done=float(r.turns),
            turns_required=float(p.turns_required),
            fastened=bool(self._scene.fasten.fastened(r.turns)),
            time_s=float(r.time_s),
            task=p.task,
            shape=p.shape,
            stalled=bool(r.stalled),
            unseated=bool(r.unseated),
            seat_torque_nm=float(r.seat_torque_nm),
            object_pose=tuple(float(v) for v in r.object_pose),  # the world frame is the arm's base frame
        )
