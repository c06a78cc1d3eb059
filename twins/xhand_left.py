"""The LEFT XHand as URDF, generated from its published geometry (shared reference xhand_left.md).

Frames are the authors' (left_hand_link at the wrist flange): the palm and the
four finger pads face -y, the fingers extend along -z; the thumb's chain runs
along +x of its links and its pad faces -z. The kinematic tree, axes, limits,
masses, COMs and inertia diagonals are the table of xhand_left.md; every
collision shape is the convex hull of that link's support points
(xhand_left_hulls.json beside this file). The back shells (`...back_link...`,
fixed to the link before the next joint) are folded into that link as a second
collision shape: one rigid body either way, fewer bodies to simulate.
Self-collision is off, as in the authors' simulation (PyBullet's default when
`URDF_USE_SELF_COLLISION` is not given).

URDF joint names are the SDK's canonical names (joints.HAND_JOINT_NAMES); link
names are the authors'. Each distal link carries two fixed frames: the authors'
`..._tip` (the fingertip end, with its 5 x 3 x 3 mm box) and a `..._pad` frame
on the pad face (twins.pads defines its placement and axes). Load with
`flags=pybullet.URDF_USE_INERTIA_FROM_FILE`, or PyBullet replaces the inertias
with ones guessed from the collision shapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.atomic import write_atomic
from twins import hull, pads, rl_recipe

HULLS_FILE = Path(__file__).with_name("xhand_left_hulls.json")
PALM_LINK = rl_recipe.PALM_LINK
FINGERS: tuple[str, ...] = ("index", "mid", "ring", "pinky")


@dataclass(frozen=True)
class Inertial:
    mass_kg: float
    com_m: tuple[float, float, float]
    diag_kgm2: tuple[float, float, float]


@dataclass(frozen=True)
class Joint:
    name: str  # canonical name for revolute joints
    parent: str
    child: str
    xyz_m: tuple[float, float, float]
    rpy_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] | None = None  # None = fixed


# xhand_left.md, links with mass (the back shells, tips and ee link are massless there).
_PHALANX1 = Inertial(0.0630, (0.0, -0.0005, -0.0333), (1.74e-5, 1.69e-5, 3.2e-6))
_PHALANX2 = Inertial(0.0159, (0.0002, -0.0012, -0.0214), (2.8e-6, 2.8e-6, 9e-7))
INERTIALS: dict[str, Inertial] = {
    PALM_LINK: Inertial(0.5391, (-0.0033, -0.0102, -0.0571), (4.646e-4, 6.444e-4, 2.776e-4)),
    "left_hand_thumb_bend_link": Inertial(0.0119, (0.0144, 0.0012, -0.0001), (6e-7, 1.6e-6, 1.6e-6)),
    "left_hand_thumb_rota_link1": Inertial(0.1327, (0.0287, 0.0004, -0.0014), (1.70e-5, 3.59e-5, 4.28e-5)),
    "left_hand_thumb_rota_link2": Inertial(0.0354, (0.0228, 0.0005, -0.0006), (3.5e-6, 7.8e-6, 9.0e-6)),
    "left_hand_index_bend_link": Inertial(0.0691, (-0.0004, 0.0010, -0.0097), (1.74e-5, 1.68e-5, 3.5e-6)),
}

PROXIMAL_M, DISTAL_M = 0.0558, 0.0422  # finger joint1 -> joint2 -> tip
THUMB_PROXIMAL_M, THUMB_DISTAL_M = 0.0553, 0.0500
FINGER_BASES_M: dict[str, tuple[float, float, float]] = {
    "index": (0.0265, -0.0065, -0.0899),  # index_bend; joint1 is 17.8 mm further along -z
    "mid": (0.0040, -0.0065, -0.1082),
    "ring": (-0.0160, -0.0065, -0.1052),
    "pinky": (-0.0360, -0.0065, -0.1022),
}
INDEX_BEND_TO_J1_M = 0.0178


def finger_links(finger: str) -> tuple[str, str, str]:
    """(proximal, distal, tip) link names of a finger (authors' names)."""
    if finger == "index":
        return "left_hand_index_rota_link1", "left_hand_index_rota_link2", "left_hand_index_rota_tip"
    return f"left_hand_{finger}_link1", f"left_hand_{finger}_link2", f"left_hand_{finger}_tip"


for _f in FINGERS:  # the four fingers' phalanges are identical
    INERTIALS[finger_links(_f)[0]], INERTIALS[finger_links(_f)[1]] = _PHALANX1, _PHALANX2


def _back_links(finger: str) -> tuple[str, str]:
    if finger == "index":
        return "left_hand_index_rotaback_link1", "left_hand_index_rotaback_link2"
    return f"left_hand_{finger}back_link1", f"left_hand_{finger}back_link2"


THUMB_LINKS = ("left_hand_thumb_rota_link1", "left_hand_thumb_rota_link2", "left_hand_thumb_rota_tip")
# thumb, index, middle, ring, pinky (joints.FINGERTIP_NAMES order); the names live in the RL recipe
DISTAL_LINKS, TIP_LINKS, PAD_LINKS = rl_recipe.DISTAL_LINKS, rl_recipe.TIP_LINKS, rl_recipe.PAD_LINKS


def _joints() -> list[Joint]:
    out = [
        Joint("thumb_bend", PALM_LINK, "left_hand_thumb_bend_link", (0.0228, -0.0095, -0.0305), axis=(0, 0, -1)),
        Joint(
            "thumb_rota1",
            "left_hand_thumb_bend_link",
            THUMB_LINKS[0],
            (0.0286, -0.0083, 0.0018),
            (-0.2618, 0.0, -0.0407),
            axis=(0, 1, 0),
        ),
        Joint("thumb_rota2", THUMB_LINKS[0], THUMB_LINKS[1], (THUMB_PROXIMAL_M, 0, 0), axis=(0, 1, 0)),
        Joint("left_hand_thumb_rota_joint3", THUMB_LINKS[1], THUMB_LINKS[2], (THUMB_DISTAL_M, 0, 0)),
        Joint("left_hand_ee_joint", PALM_LINK, "left_hand_ee_link", (0.0, 0.0, -0.065)),
        Joint("index_bend", PALM_LINK, "left_hand_index_bend_link", FINGER_BASES_M["index"], axis=(0, -1, 0)),
    ]
    for f in FINGERS:
        proximal, distal, tip = finger_links(f)
        parent, xyz = (PALM_LINK, FINGER_BASES_M[f])
        if f == "index":  # joint1 hangs below the abduction joint
            parent, xyz = "left_hand_index_bend_link", (0.0, 0.0, -INDEX_BEND_TO_J1_M)
        out += [
            Joint(f"{f}_j1", parent, proximal, xyz, axis=(-1, 0, 0)),
            Joint(f"{f}_j2", proximal, distal, (0.0, 0.0, -PROXIMAL_M), axis=(-1, 0, 0)),
            Joint(f"{tip}_joint", distal, tip, (0.0, 0.0, -DISTAL_M)),
        ]
    for distal, pad in zip(DISTAL_LINKS, PAD_LINKS, strict=True):
        frame = pads.PAD_FRAMES[distal]
        out.append(Joint(f"{pad}_joint", distal, pad, frame.origin_m, frame.rpy_rad))
    return out


JOINTS: tuple[Joint, ...] = tuple(_joints())


def _collisions() -> dict[str, list[tuple[str, tuple[float, float, float]]]]:
    """Link -> [(support-point set, its origin in the link)]: own hull plus folded back shells."""
    out: dict[str, list[tuple[str, tuple[float, float, float]]]] = {
        PALM_LINK: [(PALM_LINK, (0, 0, 0)), ("left_hand_back_link", (0.0, 0.0, -0.065))],
        "left_hand_ee_link": [("left_hand_ee_link", (0, 0, 0))],
        "left_hand_thumb_bend_link": [("left_hand_thumb_bend_link", (0, 0, 0))],
        THUMB_LINKS[0]: [(THUMB_LINKS[0], (0, 0, 0)), ("left_hand_thumb_rotaback_link1", (THUMB_PROXIMAL_M, 0, 0))],
        THUMB_LINKS[1]: [(THUMB_LINKS[1], (0, 0, 0)), ("left_hand_thumb_rotaback_link2", (THUMB_DISTAL_M, 0, 0))],
        THUMB_LINKS[2]: [(THUMB_LINKS[2], (0, 0, 0))],
    }
    for f in FINGERS:
        (proximal, distal, tip), (back1, back2) = finger_links(f), _back_links(f)
        out[proximal] = [(proximal, (0, 0, 0)), (back1, (0.0, 0.0, -PROXIMAL_M))]
        out[distal] = [(distal, (0, 0, 0)), (back2, (0.0, 0.0, -DISTAL_M))]
        out[tip] = [(tip, (0, 0, 0))]
    return out


COLLISIONS = _collisions()


def support_points() -> dict[str, np.ndarray]:
    """Each link's published support points (the farthest vertex along 96 directions)."""
    return {k: np.asarray(v, dtype=float) for k, v in json.loads(HULLS_FILE.read_text())["links"].items()}


def write_meshes(folder: Path) -> dict[str, str]:
    """One OBJ hull per support-point set in `folder` (skipped when already there); name -> file name."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for name, pts in support_points().items():
        fname = f"{name}.obj"
        path = folder / fname
        if not path.exists():
            text = hull.obj_text(*hull.convex_hull(pts))
            write_atomic(path, lambda f, text=text: f.write(text), binary=False)
        names[name] = fname
    return names


def default_mesh_dir() -> Path:
    """A per-user cache of the hull meshes, keyed by the support points' content."""
    digest = hashlib.sha1(HULLS_FILE.read_bytes() + Path(hull.__file__).read_bytes()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dexscrew_xhand_left_{os.getuid()}_{digest}"


def _v(x: tuple[float, ...]) -> str:
    return " ".join(f"{float(a):.10g}" for a in x)


def _link_xml(name: str, mesh_dir: str, visual: bool, armature_kgm2: float) -> str:
    ine = INERTIALS.get(name)
    if ine is None:  # massless in the facts; a tiny mass keeps the engines' mass matrices regular
        ine = Inertial(1e-5, (0.0, 0.0, 0.0), (1e-10, 1e-10, 1e-10))
    ixx, iyy, izz = ine.diag_kgm2
    axis = next((j.axis for j in JOINTS if j.child == name and j.axis is not None), None)
    if axis is not None and armature_kgm2 > 0:  # a rotor disc turning with the link: I about its axis, I/2 across
        ixx, iyy, izz = (
            i + armature_kgm2 * (abs(a) + 0.5 * (1 - abs(a))) for i, a in zip((ixx, iyy, izz), axis, strict=True)
        )
    parts = [
        f'<link name="{name}"><inertial><origin xyz="{_v(ine.com_m)}"/><mass value="{ine.mass_kg}"/>'
        f'<inertia ixx="{ixx}" ixy="0" ixz="0" iyy="{iyy}" iyz="0" izz="{izz}"/></inertial>'
    ]
    for shape, origin in COLLISIONS.get(name, []):
        geom = f'<origin xyz="{_v(origin)}"/><geometry><mesh filename="{mesh_dir}/{shape}.obj"/></geometry>'
        parts.append(f"<collision>{geom}</collision>")
        if visual:
            colour = "xhand_pad" if name in DISTAL_LINKS and shape == name else "xhand_shell"
            parts.append(f'<visual>{geom}<material name="{colour}"/></visual>')
    parts.append("</link>")
    return "".join(parts)


def _joint_xml(j: Joint, friction_nm: float, lower: np.ndarray, upper: np.ndarray) -> str:
    head = (
        f'<joint name="{j.name}" type="{"fixed" if j.axis is None else "revolute"}">'
        f'<parent link="{j.parent}"/><child link="{j.child}"/><origin xyz="{_v(j.xyz_m)}" rpy="{_v(j.rpy_rad)}"/>'
    )
    if j.axis is None:
        return head + "</joint>"
    i = joints.HAND_JOINT_NAMES.index(j.name)
    return head + (
        f'<axis xyz="{_v(j.axis)}"/><limit lower="{lower[i]}" upper="{upper[i]}" '
        f'effort="{EFFORT_NM[i]}" velocity="{joints.XHAND_MAX_SPEED_RAD_S[i]}"/>'
        f'<dynamics damping="0" friction="{friction_nm}"/></joint>'
    )


# The URDF's limits and efforts (xhand_left.md), canonical order; rota1/rota2 upper 1.745 as in the URDF.
LOWER_RAD = np.array([0.0, -0.698, 0.0, -0.174] + [0.0] * 8)
UPPER_RAD = np.array([1.832, 1.745, 1.745, 0.174] + [1.919] * 8)
EFFORT_NM = np.array([1.1, 1.1, 0.4, 0.4, 1.1, 0.4] + [1.1, 0.4] * 3)
JOINT_FRICTION_NM = 0.01  # the authors' hand joint friction

# Flange -> left_hand_link, an ASSUMPTION (docs/hardware.md): the fingers (hand -z) point out of the flange
# (+z), the hand turned 45 degrees about that axis as the authors' teleop's fixed UR-tool-to-left-hand
# frame; left_hand_link's origin is the flange face (no adapter plate). The twin's arm mount, the
# real cell's TCP (configs/real_cell.toml) and docs/hardware.md use these two constants.
MOUNT_XYZ_M = (0.0, 0.0, 0.0)
MOUNT_RPY_RAD = (np.pi, 0.0, np.pi / 4)  # R = Rz(45 deg) Rx(180 deg)
MOUNT = (MOUNT_XYZ_M, MOUNT_RPY_RAD)
TOTAL_MASS_KG = 1.1038  # sum of the link masses above

MATERIALS = (
    '<material name="xhand_shell"><color rgba="0.25 0.25 0.3 1"/></material>'
    '<material name="xhand_pad"><color rgba="0.9 0.75 0.6 1"/></material>'
)


def hand_links_xml(
    mesh_dir: Path | str | None = None,
    visual: bool = True,
    limits: tuple[np.ndarray, np.ndarray] | None = None,
    armature_kgm2: float = 0.0,
) -> str:
    """Links and joints of the hand (no <robot> wrapper), rooted at PALM_LINK: to embed under a parent link
    with a fixed joint (e.g. the arm's flange with MOUNT). Meshes are referenced in `mesh_dir` (absolute
    paths; default: a per-user cache that is filled on first use). `limits` (lower, upper), canonical
    order, replace the URDF's (the authors' simulation uses its own). `armature_kgm2` > 0 adds a rotor
    inertia about each revolute joint's axis to its child link (PyBullet has no joint armature; the
    link-inertia form also loads the joints above it, docs/twins.md)."""
    lower, upper = (LOWER_RAD, UPPER_RAD) if limits is None else (np.asarray(limits[0]), np.asarray(limits[1]))
    folder = Path(mesh_dir) if mesh_dir is not None else default_mesh_dir()
    if mesh_dir is None or folder.is_absolute():
        write_meshes(folder)
    links = [PALM_LINK] + [j.child for j in JOINTS]
    return "".join(_link_xml(n, str(folder), visual, armature_kgm2) for n in links) + "".join(
        _joint_xml(j, JOINT_FRICTION_NM, lower, upper) for j in JOINTS
    )


def hand_urdf(
    mesh_dir: Path | str | None = None,
    visual: bool = True,
    limits: tuple[np.ndarray, np.ndarray] | None = None,
    armature_kgm2: float = 0.0,
) -> str:
    """A standalone left XHand (load with useFixedBase=True, flags=URDF_USE_INERTIA_FROM_FILE)."""
    body = hand_links_xml(mesh_dir, visual, limits, armature_kgm2)
    return lines(f'<?xml version="1.0"?><robot name="xhand_left">{MATERIALS}{body}</robot>')


def lines(xml: str) -> str:
    """One element per line: PyBullet's URDF reader fails on very long lines."""
    return xml.replace("><", ">\n<")
