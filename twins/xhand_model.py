"""The 12-DoF XHand as URDF text, generated from its published joint layout.

Hand frame: origin at the wrist, +z along the fingers, +x the palm normal (the
side the fingers flex towards), +y across the palm towards the index finger.
Finger bases, phalanx lengths, limits, efforts and masses follow
shared hardware facts (joints.py holds the limits). The thumb base position is
not published: it is placed so that, at the authors' initial nut targets, the
thumb and index pads close on a ~21 mm nut (see THUMB_BASE_M).

Every distal link carries a fixed child `<finger>_tip` whose frame is the pad
frame: origin at the pad centre, +x the pad normal (out of the pad), +y across
and +z along the pad. Tactile taxels and "fingertip positions" use that frame.
The URDF can stand alone (a fixed base hand) or be mounted on a parent link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexscrew_sdk import joints

PROXIMAL_M, DISTAL_M = 0.0558, 0.0422
THUMB_PROXIMAL_M, THUMB_DISTAL_M, THUMB_META_M = 0.0553, 0.0502, 0.02
PALM_KG, FINGER_KG = 0.539, 0.11
PHALANX_RADIUS_M, TIP_RADIUS_M = 0.009, 0.008
PAD_OFFSET_M = 0.026  # pad centre along the distal link
# (index, middle, ring, pinky): MCP position in the hand frame
FINGER_BASES_M = {
    "index": (0.0, 0.0265, 0.108),
    "mid": (0.0, 0.004, 0.108),
    "ring": (0.0, -0.016, 0.105),
    "pinky": (0.0, -0.036, 0.102),
}
THUMB_BASE_M = (-0.0182, -0.0192, 0.0351)  # solved: thumb and index close on nut and handle
TIP_LINKS: tuple[str, ...] = ("thumb_tip", "index_tip", "mid_tip", "ring_tip", "pinky_tip")
DISTAL_LINKS: tuple[str, ...] = ("thumb_distal", "index_distal", "mid_distal", "ring_distal", "pinky_distal")


@dataclass(frozen=True)
class HandModelOptions:
    palm_link: str = "hand_palm"
    joint_damping: float = 0.0
    joint_friction_nm: float = 0.01


def _inertia_xml(mass: float, size: tuple[float, float, float], origin: tuple[float, float, float]) -> str:
    sx, sy, sz = size
    ixx, iyy, izz = (mass / 12.0 * (b * b + c * c) for b, c in ((sy, sz), (sx, sz), (sx, sy)))
    ox, oy, oz = origin
    return (
        f'<inertial><origin xyz="{ox} {oy} {oz}"/><mass value="{mass}"/>'
        f'<inertia ixx="{ixx:.3e}" ixy="0" ixz="0" iyy="{iyy:.3e}" iyz="0" izz="{izz:.3e}"/></inertial>'
    )


def _capsule_link(name: str, length: float, radius: float, mass: float, color: str) -> str:
    half = length / 2.0
    body = max(length - 2 * radius, 0.001)
    return (
        f'<link name="{name}">{_inertia_xml(mass, (2 * radius, 2 * radius, length), (0, 0, half))}'
        f'<visual><origin xyz="0 0 {half}"/><geometry><capsule radius="{radius}" length="{body}"/></geometry>'
        f'<material name="{color}"/></visual>'
        f'<collision><origin xyz="0 0 {half}"/><geometry><capsule radius="{radius}" length="{body}"/></geometry>'
        "</collision></link>"
    )


def _joint(name: str, parent: str, child: str, xyz: tuple, rpy: tuple, axis: tuple, opt: HandModelOptions) -> str:
    i = joints.HAND_JOINT_NAMES.index(name)
    lo, hi = joints.XHAND_LOWER_RAD[i], joints.XHAND_UPPER_RAD[i]
    effort, vel = joints.XHAND_EFFORT_NM[i], joints.XHAND_MAX_SPEED_RAD_S[i]
    return (
        f'<joint name="{name}" type="revolute"><parent link="{parent}"/><child link="{child}"/>'
        f'<origin xyz="{xyz[0]} {xyz[1]} {xyz[2]}" rpy="{rpy[0]} {rpy[1]} {rpy[2]}"/>'
        f'<axis xyz="{axis[0]} {axis[1]} {axis[2]}"/>'
        f'<limit lower="{lo}" upper="{hi}" effort="{effort}" velocity="{vel}"/>'
        f'<dynamics damping="{opt.joint_damping}" friction="{opt.joint_friction_nm}"/></joint>'
    )


def _fixed(name: str, parent: str, child: str, xyz: tuple, rpy: tuple = (0, 0, 0)) -> str:
    return (
        f'<joint name="{name}" type="fixed"><parent link="{parent}"/><child link="{child}"/>'
        f'<origin xyz="{xyz[0]} {xyz[1]} {xyz[2]}" rpy="{rpy[0]} {rpy[1]} {rpy[2]}"/></joint>'
    )


def _tip(finger: str, distal_len: float, opt: HandModelOptions) -> str:
    """Pad frame on the distal link: the flexion side is the distal link's +x."""
    link = f'<link name="{finger}_tip"><inertial><mass value="0.0001"/>' + (
        '<inertia ixx="1e-9" ixy="0" ixz="0" iyy="1e-9" iyz="0" izz="1e-9"/></inertial></link>'
    )
    along = min(PAD_OFFSET_M, distal_len - TIP_RADIUS_M)
    return link + _fixed(f"{finger}_tip_joint", f"{finger}_distal", f"{finger}_tip", (0, 0, along))


def _finger(finger: str, opt: HandModelOptions) -> str:
    base = FINGER_BASES_M[finger]
    mass_p, mass_d = 0.6 * FINGER_KG, 0.4 * FINGER_KG
    parts = []
    parent = opt.palm_link
    if finger == "index":  # abduction joint about the palm normal before the flexion chain
        parts.append(_capsule_link("index_base", 0.0178, 0.004, 0.005, "grey"))
        parts.append(_joint("index_bend", parent, "index_base", base, (0, 0, 0), (1, 0, 0), opt))
        parent, base = "index_base", (0, 0, 0)
    j1, j2 = ("index_j1", "index_j2") if finger == "index" else (f"{finger}_j1", f"{finger}_j2")
    parts.append(_capsule_link(f"{finger}_proximal", PROXIMAL_M, PHALANX_RADIUS_M, mass_p, "grey"))
    parts.append(_joint(j1, parent, f"{finger}_proximal", base, (0, 0, 0), (0, 1, 0), opt))
    parts.append(_capsule_link(f"{finger}_distal", DISTAL_M, TIP_RADIUS_M, mass_d, "skin"))
    parts.append(_joint(j2, f"{finger}_proximal", f"{finger}_distal", (0, 0, PROXIMAL_M), (0, 0, 0), (0, 1, 0), opt))
    parts.append(_tip(finger, DISTAL_M, opt))
    return "".join(parts)


def _thumb(opt: HandModelOptions) -> str:
    # Base frame: local z = hand +y (thumb out to the side), local x = hand +z, local y = hand +x.
    # thumb_bend swings it about the hand's -z towards the palm front; rota1/rota2 flex about local y.
    rpy = _rpy_from_matrix(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    return "".join(
        [
            _capsule_link("thumb_base", THUMB_META_M, PHALANX_RADIUS_M, 0.02, "grey"),
            _joint("thumb_bend", opt.palm_link, "thumb_base", THUMB_BASE_M, rpy, (-1, 0, 0), opt),
            _capsule_link("thumb_proximal", THUMB_PROXIMAL_M, PHALANX_RADIUS_M, 0.055, "grey"),
            _joint("thumb_rota1", "thumb_base", "thumb_proximal", (0, 0, THUMB_META_M), (0, 0, 0), (0, 1, 0), opt),
            _capsule_link("thumb_distal", THUMB_DISTAL_M, TIP_RADIUS_M, 0.035, "skin"),
            _joint(
                "thumb_rota2", "thumb_proximal", "thumb_distal", (0, 0, THUMB_PROXIMAL_M), (0, 0, 0), (0, 1, 0), opt
            ),
            _tip("thumb", THUMB_DISTAL_M, opt),
        ]
    )


def _rpy_from_matrix(r: np.ndarray) -> tuple[float, float, float]:
    """URDF roll-pitch-yaw (R = Rz(yaw) Ry(pitch) Rx(roll)) of a rotation matrix."""
    pitch = float(np.arcsin(-np.clip(r[2, 0], -1.0, 1.0)))
    if abs(r[2, 0]) > 1.0 - 1e-9:  # gimbal lock: put the whole rotation into roll
        sign = -1.0 if r[2, 0] > 0 else 1.0
        return float(np.arctan2(sign * r[0, 1], sign * r[0, 2])), pitch, 0.0
    return float(np.arctan2(r[2, 1], r[2, 2])), pitch, float(np.arctan2(r[1, 0], r[0, 0]))


def palm_link_xml(opt: HandModelOptions) -> str:
    """The palm: a box behind the finger bases, most of the hand's mass."""
    size, centre = (0.02, 0.085, 0.1), (-0.011, -0.005, 0.055)
    box = f'<origin xyz="{centre[0]} {centre[1]} {centre[2]}"/><geometry><box size="{size[0]} {size[1]} {size[2]}"/>'
    return (
        f'<link name="{opt.palm_link}">{_inertia_xml(PALM_KG, size, centre)}'
        f'<visual>{box}</geometry><material name="dark"/></visual><collision>{box}</geometry></collision></link>'
    )


MATERIALS = (
    '<material name="grey"><color rgba="0.6 0.6 0.65 1"/></material>'
    '<material name="skin"><color rgba="0.9 0.75 0.6 1"/></material>'
    '<material name="dark"><color rgba="0.25 0.25 0.3 1"/></material>'
)


def hand_links_xml(opt: HandModelOptions | None = None) -> str:
    """Palm, fingers and thumb (no <robot> wrapper): to embed under a parent via a fixed joint."""
    opt = opt or HandModelOptions()
    return palm_link_xml(opt) + _thumb(opt) + "".join(_finger(f, opt) for f in FINGER_BASES_M)


def hand_urdf(opt: HandModelOptions | None = None) -> str:
    """A standalone XHand robot (load with useFixedBase to fix it in space)."""
    return lines(f'<?xml version="1.0"?><robot name="xhand">{MATERIALS}{hand_links_xml(opt)}</robot>')


def lines(xml: str) -> str:
    """One element per line: PyBullet's URDF reader fails on very long lines."""
    return xml.replace("><", ">\n<")
