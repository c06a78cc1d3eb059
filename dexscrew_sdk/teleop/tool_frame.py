"""The teleoperation tool frame: the grasp centre, z along the object's axis, fixed by the hand mount.

The operator moves this frame, not the flange: turning about its z turns about
the object's axis, moving along its z lowers the hand along the bolt. Its
origin is the thumb-index midpoint at the skill's initial targets (where the
skill was trained to hold the object) and its z the object's axis in that
nominal grasp, both from the hand model (twins.grasp); the hand mount (palm in the
flange frame) then places it on the arm. `tool_offset` is the one place that
combines them; every consumer (wrist control, scripted operators, recording
metadata) asks it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from dexscrew_sdk import kinematics
from dexscrew_sdk.skills import layout
from dexscrew_sdk.teleop.command import TeleopError


@dataclass(frozen=True)
class Grasp:
    """The nominal grasp in the palm frame."""

    centre_m: np.ndarray  # (3,) thumb-index midpoint at the skill's initial targets
    axis: np.ndarray  # (3,) unit, the object's axis (fastening turns about it)


def hand_mount_pose() -> np.ndarray:
    """The palm (hand base link) in the flange frame, (x, y, z, rotation vector): the cell's hand mount.

    Read from the hand model's mount constant when the model defines one, else the twin's
    URDF default (the palm bolted straight onto the flange)."""
    try:
        from twins import xhand_left  # the left-hand model carries the mount it was measured with
    except ImportError:
        return np.zeros(6)
    mount = getattr(xhand_left, "MOUNT", None)
    if mount is None:
        return np.zeros(6)
    arr = np.asarray(mount, dtype=float)
    if arr.shape == (4, 4):
        return kinematics.matrix_to_pose(arr)
    if arr.shape == (6,):
        return arr
    if arr.shape == (2, 3):  # (xyz, rpy)
        return kinematics.matrix_to_pose(_xyz_rpy_matrix(arr[0], arr[1]))
    raise TeleopError(f"twins.xhand_left.MOUNT has shape {arr.shape}; expected a 4x4, (6,) pose or (xyz, rpy)")


def _xyz_rpy_matrix(xyz: np.ndarray, rpy: np.ndarray) -> np.ndarray:
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    rot = np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rot, xyz
    return t


@functools.lru_cache(maxsize=4)
def nominal_grasp(task: str) -> Grasp:
    """The grasp the skill for `task` was trained in, in the palm frame, from the hand model's geometry."""
    layout.check_task(task)
    try:
        from twins.grasp import nominal_grasp as model_grasp  # pure numpy: no engine needed
    except ImportError as exc:
        raise TeleopError(f"the tool frame comes from the hand model in the `twins` package ({exc})") from None
    g = model_grasp(task)
    axis = np.asarray(g.axis, dtype=float)
    return Grasp(np.asarray(g.centre_m, dtype=float), axis / np.linalg.norm(axis))


def tool_offset(task: str, mount: np.ndarray | None = None, grasp: Grasp | None = None) -> np.ndarray:
    """The tool frame in the flange frame, (x, y, z, rotation vector), for `task`'s nominal grasp."""
    grasp = nominal_grasp(task) if grasp is None else grasp
    mount_t = kinematics.pose_to_matrix(hand_mount_pose() if mount is None else np.asarray(mount, dtype=float))
    z = grasp.axis / np.linalg.norm(grasp.axis)
    # x: the palm's x (its normal) made orthogonal to the axis; the palm's y if they are parallel
    ref = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ z) * z
    x /= np.linalg.norm(x)
    in_palm = np.eye(4)
    in_palm[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    in_palm[:3, 3] = grasp.centre_m
    return kinematics.matrix_to_pose(mount_t @ in_palm)
