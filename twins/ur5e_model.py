"""The UR5e as URDF text, generated from its standard DH parameters, with the left XHand on its flange.

URDF link k has the frame of DH frame k-1 rotated by joint k (so every joint
turns about its link's z), and joint k+1 sits at Tz(d_k) Tx(a_k) Rx(alpha_k):
forward kinematics of the body therefore equals `dexscrew_sdk.kinematics`.
The arm links are visual only (no collision): the cell's contacts that matter
are the fingers' with the object, and the solver time goes there.
"""

from __future__ import annotations

import numpy as np

from dexscrew_sdk import joints, kinematics
from twins import rl_recipe, xhand_left

UR5E_LINK_KG = (3.761, 8.058, 2.846, 1.37, 1.3, 0.365)
UR5E_EFFORT_NM = (150.0, 150.0, 150.0, 28.0, 28.0, 28.0)
LINK_RADIUS_M = (0.06, 0.054, 0.045, 0.035, 0.035, 0.032)


def _segment_visual(offset: np.ndarray, radius: float) -> str:
    length = float(np.linalg.norm(offset))
    if length < 1e-6:
        return ""
    z = offset / length
    pitch = float(np.arccos(np.clip(z[2], -1.0, 1.0)))
    yaw = float(np.arctan2(z[1], z[0]))
    mid = offset / 2
    return (
        f'<visual><origin xyz="{mid[0]} {mid[1]} {mid[2]}" rpy="0 {pitch} {yaw}"/>'
        f'<geometry><cylinder radius="{radius}" length="{length}"/></geometry><material name="arm"/></visual>'
    )


def _link(name: str, mass: float, offset: np.ndarray, radius: float) -> str:
    c = offset / 2
    inertia = max(mass * 0.01, 1e-4)
    return (
        f'<link name="{name}"><inertial><origin xyz="{c[0]} {c[1]} {c[2]}"/><mass value="{mass}"/>'
        f'<inertia ixx="{inertia}" ixy="0" ixz="0" iyy="{inertia}" iyz="0" izz="{inertia}"/></inertial>'
        f'<visual><geometry><sphere radius="{radius}"/></geometry><material name="arm"/></visual>'
        f"{_segment_visual(offset, radius * 0.8)}</link>"
    )


def arm_with_hand_urdf(mount_xyz: tuple = xhand_left.MOUNT_XYZ_M, mount_rpy: tuple = xhand_left.MOUNT_RPY_RAD) -> str:
    """UR5e (joints named as joints.ARM_JOINT_NAMES) carrying the left XHand (joints.HAND_JOINT_NAMES) on
    the flange -> left_hand_link mount (xhand_left.MOUNT, also the real cell's). Load it with
    flags=URDF_USE_INERTIA_FROM_FILE (the hand's inertias are the published ones)."""
    d, a, alpha = kinematics.UR5E_D, kinematics.UR5E_A, kinematics.UR5E_ALPHA
    parts = [
        '<?xml version="1.0"?><robot name="ur5e_xhand">',
        xhand_left.MATERIALS,
        '<material name="arm"><color rgba="0.55 0.65 0.8 1"/></material>',
        '<link name="base_link"><inertial><mass value="4.0"/>'
        '<inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>'
        '<visual><origin xyz="0 0 0.05"/><geometry><cylinder radius="0.075" length="0.1"/></geometry>'
        '<material name="arm"/></visual></link>',
    ]
    parent, origin = "base_link", ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    for k, name in enumerate(joints.ARM_JOINT_NAMES):
        offset = np.array([a[k], 0.0, d[k]])
        link = f"{name}_link"
        parts.append(_link(link, UR5E_LINK_KG[k], offset, LINK_RADIUS_M[k]))
        (x, y, z), (r, p, yw) = origin
        lo, hi, vel = joints.UR5E_LOWER_RAD[k], joints.UR5E_UPPER_RAD[k], joints.UR5E_MAX_SPEED_RAD_S[k]
        parts.append(
            f'<joint name="{name}" type="revolute"><parent link="{parent}"/><child link="{link}"/>'
            f'<origin xyz="{x} {y} {z}" rpy="{r} {p} {yw}"/><axis xyz="0 0 1"/>'
            f'<limit lower="{lo}" upper="{hi}" effort="{UR5E_EFFORT_NM[k]}" velocity="{vel}"/></joint>'
        )
        parent, origin = link, ((a[k], 0.0, d[k]), (alpha[k], 0.0, 0.0))
    (x, y, z), (r, p, yw) = origin
    parts.append(
        '<link name="flange"><inertial><mass value="0.001"/>'
        '<inertia ixx="1e-7" ixy="0" ixz="0" iyy="1e-7" iyz="0" izz="1e-7"/></inertial></link>'
        f'<joint name="flange_joint" type="fixed"><parent link="{parent}"/><child link="flange"/>'
        f'<origin xyz="{x} {y} {z}" rpy="{r} {p} {yw}"/></joint>'
    )
    mx, my, mz = mount_xyz
    mr, mp, myw = mount_rpy
    parts.append(
        f'<joint name="hand_mount" type="fixed"><parent link="flange"/><child link="{xhand_left.PALM_LINK}"/>'
        f'<origin xyz="{mx} {my} {mz}" rpy="{mr} {mp} {myw}"/></joint>'
    )
    parts.append(xhand_left.hand_links_xml(armature_kgm2=rl_recipe.ARMATURE_KGM2))  # torque PD's rotor inertia
    parts.append("</robot>")
    return xhand_left.lines("".join(parts))
