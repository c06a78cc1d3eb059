"""Where the fingertip tactile pads sit on the left XHand's distal links (an ASSUMPTION, docs/twins.md).

The public facts say which face carries the pad (fingers: -y of the distal link;
thumb: -z of its distal link) and that each pad has 10 x 12 taxels; they do not
give the pad's extent, the grid's orientation, the taxel order or the force
axes. The taxel layout (order and force axes) is `dexscrew_sdk.joints`' (the
XHand driver uses the same); this module only places each pad on its link.

Pad frame: origin at the pad's centre on the pad surface, +z the outward pad
normal, +y along the finger towards the tip, +x = y x z (across the pad).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_ALONG_M = 0.024  # pad length along the finger (joints.TAXEL_GRID's 12 columns)
PAD_ACROSS_M = 0.016  # pad width across the finger (its 10 rows)


@dataclass(frozen=True)
class PadFrame:
    origin_m: tuple[float, float, float]  # in the distal link's frame
    axes: tuple[tuple[float, ...], ...]  # pad x, y, z, each in the distal link's frame

    @property
    def matrix(self) -> np.ndarray:
        """Rotation link <- pad (its columns are the pad axes)."""
        return np.array(self.axes, dtype=float).T

    @property
    def rpy_rad(self) -> tuple[float, float, float]:
        return rpy_from_matrix(self.matrix)


# Fingers: normal -y, along -z (tip at z = -42.2 mm); pad centre 24 mm from the joint, on the hull's
# -y face (support points reach y = -9.2 .. -10.5 mm between z = -16 and -32 mm).
_FINGER = PadFrame((0.0, -0.0098, -0.024), ((-1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0)))
# Thumb: normal -z, along +x (tip at x = 50 mm); centre 28 mm from the joint, on the -z face (z = -8.5 .. -11 mm).
_THUMB = PadFrame((0.028, 0.0, -0.0095), ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)))

PAD_FRAMES: dict[str, PadFrame] = {
    "left_hand_thumb_rota_link2": _THUMB,
    "left_hand_index_rota_link2": _FINGER,
    "left_hand_mid_link2": _FINGER,
    "left_hand_ring_link2": _FINGER,
    "left_hand_pinky_link2": _FINGER,
}


def rpy_from_matrix(r: np.ndarray) -> tuple[float, float, float]:
    """URDF roll-pitch-yaw (R = Rz(yaw) Ry(pitch) Rx(roll)) of a rotation matrix."""
    m = np.asarray(r, dtype=float)
    pitch = float(np.arcsin(-np.clip(m[2, 0], -1.0, 1.0)))
    if abs(m[2, 0]) > 1.0 - 1e-9:  # gimbal lock: put the whole rotation into roll
        sign = -1.0 if m[2, 0] > 0 else 1.0
        return float(np.arctan2(sign * m[0, 1], sign * m[0, 2])), pitch, 0.0
    return float(np.arctan2(m[2, 1], m[2, 2])), pitch, float(np.arctan2(m[1, 0], m[0, 0]))
