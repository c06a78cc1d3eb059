"""TwinWorld: reset / perturb / ground-truth progress of the full twin (sim-only World interface)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet as pb

from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.interfaces import World
from dexscrew_sdk.records import DeviceInfo, TaskProgress
from twins import objects

if TYPE_CHECKING:
    from twins.cell import TwinCell

PERTURBATIONS: tuple[str, ...] = ("drag_fingers", "counter_rotate", "assist_turn")
# Randomisation ranges used when reset(..., randomisation={"enabled": True, ...}); any key may be overridden.
DEFAULT_RANDOMISATION: dict[str, Any] = {
    "friction": [0.7, 1.5],
    "mass_kg": [0.04, 0.06],
    "scale": [0.95, 1.05],
    "pose_m": 0.002,
    "tilt_deg": [20.0, 30.0],
    "tactile_noise_n": 0.01,
    "gain_scale": [0.9, 1.1],
}
ASSIST_TORQUE_NM = 3.0
ASSIST_DURATION_S = 1.0
ASSIST_MAX_SPEED_RAD_S = 2 * np.pi


class TwinWorld(World):
    def __init__(self, cell: TwinCell) -> None:
        super().__init__()
        self._cell = cell
        self.assist_until_s = -1.0
        self._assisting = False

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            "world",
            "twin-world",
            extra={"tasks": list(objects.TASKS), "perturbations": list(PERTURBATIONS)},
        )

    def reset(self, task: str, shape: str, seed: int = 0, randomisation: dict[str, Any] | None = None) -> None:
        """Rebuild the scene; randomisation None or {} = nominal, {"enabled": True, ...} = sampled."""
        objects.object_geometry(task, shape)  # names the valid choices on bad input
        rnd = dict(randomisation or {})
        unknown = set(rnd) - set(DEFAULT_RANDOMISATION) - {"enabled"}
        if unknown:
            raise ConfigError(f"unknown randomisation keys {sorted(unknown)}; valid: {sorted(DEFAULT_RANDOMISATION)}")
        base = self._cell.params
        params = replace(base, task=task, shape=shape, mass_kg=objects.object_geometry(task, shape).mass_kg)
        noise, gain = 0.01, 1.0
        if rnd.pop("enabled", False):
            ranges = {**DEFAULT_RANDOMISATION, **rnd}
            r = np.random.default_rng(seed)
            params = replace(
                params,
                lateral_friction=float(r.uniform(*ranges["friction"])),
                mass_kg=float(r.uniform(*ranges["mass_kg"])),
                scale=float(r.uniform(*ranges["scale"])),
                pose_offset_m=r.uniform(-1, 1, 3) * float(ranges["pose_m"]),
                tilt_rad=float(np.deg2rad(r.uniform(*ranges["tilt_deg"]))),
            )
            noise, gain = float(ranges["tactile_noise_n"]), float(r.uniform(*ranges["gain_scale"]))
        self.assist_until_s = -1.0
        self._assisting = False
        self._cell.rebuild(params, int(seed), noise, gain)

    def perturb(self, kind: str) -> None:
        scene = self._cell.scene
        c = scene.client
        if kind == "drag_fingers":  # pull thumb, index and middle open; the hand's controller brings them back
            q = self._cell.hand.q.copy()
            q[[1, 2, 4, 5, 6, 7]] = 0.0
            scene.hand.reset_joints(q)
            self._cell.hand.q = q
        elif kind == "counter_rotate":  # a quarter turn against the fastening direction (thread moves too)
            angle = scene.object_angle() - np.pi / 2
            pb.resetJointState(scene.obj, 1, angle, physicsClientId=c)
            if scene.params.task == "nut":
                travel = scene.object_travel() + scene.params.pitch_m / 4
                pb.resetJointState(scene.obj, 0, travel, physicsClientId=c)
        elif kind == "assist_turn":  # a bounded fastening torque for a while: a scripted stand-in for a skill
            self.assist_until_s = self._cell.time_s + ASSIST_DURATION_S
        else:
            raise ConfigError(f"unknown perturbation {kind!r}; choose one of {list(PERTURBATIONS)}")

    def apply_forces(self) -> None:
        """Called every physics step: the assist, if active, drives the object's joint.

        ASSIST_TORQUE_NM against the thread's current friction, as one joint motor (at most one turn
        a second): an external torque on the handle's link reached its joint only in part in PyBullet
        (a few percent for the long screwdriver handle)."""
        scene = self._cell.scene
        if self._cell.time_s < self.assist_until_s:
            net = ASSIST_TORQUE_NM - scene.friction_nm  # > 0 turns; <= 0 the thread holds what is left
            speed = ASSIST_MAX_SPEED_RAD_S if net > 0 else 0.0
            pb.setJointMotorControl2(
                scene.obj, 1, pb.VELOCITY_CONTROL, targetVelocity=speed, force=abs(net), physicsClientId=scene.client
            )
            self._assisting = True
        elif self._assisting:
            scene.restore_thread_friction()
            self._assisting = False

    def progress(self) -> TaskProgress:
        p = self._cell.params
        done = self._cell.scene.turns_done()
        return TaskProgress(
            turns_done=float(done),
            turns_required=float(p.turns_required),
            fastened=bool(done >= p.turns_required),
            time_s=float(self._cell.time_s),
            task=p.task,
            shape=p.shape,
        )
