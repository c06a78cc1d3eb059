"""Canonical joint orders and the published limits of the hardware.

This module is the one place the SDK documents joint order. Every array of arm
or hand joints anywhere in the SDK (states, commands, recordings, policies'
outputs once mapped) uses these orders; drivers and checkpoints map to and from
vendor orders at their edge.

Hand order is anatomical, thumb first: it coincides with the XHand SDK's own
order, so the driver's mapping table is the identity, but it is still applied
through `HAND_SDK_TO_CANONICAL` so that a different vendor order only changes
data here.
"""

from __future__ import annotations

import numpy as np

ARM_JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow",
    "wrist_1",
    "wrist_2",
    "wrist_3",
)

HAND_JOINT_NAMES: tuple[str, ...] = (
    "thumb_bend",
    "thumb_rota1",
    "thumb_rota2",
    "index_bend",
    "index_j1",
    "index_j2",
    "mid_j1",
    "mid_j2",
    "ring_j1",
    "ring_j2",
    "pinky_j1",
    "pinky_j2",
)

FINGERTIP_NAMES: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")

ARM_DOF = len(ARM_JOINT_NAMES)
HAND_DOF = len(HAND_JOINT_NAMES)
TACTILE_SHAPE: tuple[int, int, int] = (5, 120, 3)  # fingertips x taxels x (fx, fy, fz)
TACTILE_THRESHOLD_N = 0.05  # the XHand's minimum detectable force; below it a taxel reads 0
TAXEL_GRID: tuple[int, int] = (10, 12)  # rows x columns of one fingertip pad
# Tactile layout ASSUMPTIONS (the public facts give neither; docs/twins.md): each pad's 120 taxels are
# row-major over TAXEL_GRID, the 10 rows across the pad and the 12 columns along the finger (column 0 at
# the pad's base end, as a public XHand viewer draws the 12-taxel axis along the finger); the 3 force values
# are (across, along, normal) in the pad frame, normal positive when pressing; pads in FINGERTIP_NAMES order.
TAXEL_AXES: tuple[str, str] = ("across", "along")  # what TAXEL_GRID's rows and columns step along
TACTILE_FORCE_AXES: tuple[str, str, str] = ("across", "along", "normal")

# UR5e (hardware.md): +-2 pi on every joint, pi rad/s.
UR5E_LOWER_RAD = np.full(ARM_DOF, -2 * np.pi)
UR5E_UPPER_RAD = np.full(ARM_DOF, 2 * np.pi)
UR5E_MAX_SPEED_RAD_S = np.full(ARM_DOF, np.pi)
UR5E_HOME_RAD = np.array([0.0, -np.pi / 2, np.pi / 2, -np.pi / 2, -np.pi / 2, 0.0])

# XHand URDF limits, canonical order.
XHAND_LOWER_RAD = np.array([0.0, -0.698, 0.0, -0.174] + [0.0] * 8)
XHAND_UPPER_RAD = np.array([1.832, 1.57, 1.57, 0.174] + [1.919] * 8)
_PROXIMAL, _DISTAL = 8.63, 14.38
XHAND_MAX_SPEED_RAD_S = np.array(
    [_PROXIMAL, _PROXIMAL, _DISTAL, _PROXIMAL, _PROXIMAL, _DISTAL] + [_PROXIMAL, _DISTAL] * 3
)
XHAND_EFFORT_NM = np.array([1.1, 1.1, 0.4, 1.1, 1.1, 0.4] + [1.1, 0.4] * 3)

# XHand SDK order == canonical order (see module docstring).
HAND_SDK_TO_CANONICAL: tuple[int, ...] = tuple(range(HAND_DOF))
