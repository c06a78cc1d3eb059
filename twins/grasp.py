"""The nominal grasp: where the object's axis sits in the left hand's frame when a skill starts.

The skills were trained in the simplified RL world's nominal scene (twins.rl_recipe.NOMINAL): the hand's
`left_hand_link` at HAND_POS_M, rotated R_x(90 deg - 25 deg), the object's vertical axis through
`object_xy_m`. The fingertips meet the training nut about 50 mm below its top and the handle about 55 mm
below its top (shared reference xhand_left.md, item 10). The full twin puts its object's axis and its
grasp point (the object frame's origin, twins.objects) at that same place in the hand frame, so a skill
sees the situation it was trained in. Pure numpy: the teleop tool frame uses it without PyBullet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twins import rl_recipe

GRASP_BELOW_TOP_M = {"nut": 0.050, "screwdriver": 0.055}


@dataclass(frozen=True)
class Grasp:
    centre_m: np.ndarray  # the grasp point on the object's axis, in left_hand_link
    axis: np.ndarray  # the object's axis (unit, pointing up in the world), in left_hand_link


def nominal_grasp(task: str) -> Grasp:
    """The RL world's nominal grasp for `task`, in the hand frame."""
    scene = rl_recipe.nominal_scene(task)
    top_m = rl_recipe.shape(task, scene.shape).z1_m
    rot = rl_recipe.hand_rotation(scene.tilt_rad, scene.tilt_y_rad)  # world <- hand
    centre_world = np.array([*scene.object_xy_m, top_m - GRASP_BELOW_TOP_M[task]])
    centre = rot.T @ (centre_world - np.asarray(rl_recipe.HAND_POS_M))
    return Grasp(centre, rot.T @ np.array([0.0, 0.0, 1.0]))
