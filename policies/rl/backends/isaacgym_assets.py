"""Write the IsaacGym backend's assets from the twins' models (run on the SDK's Python, with PyBullet).

    python -m policies.rl.backends.isaacgym_assets FOLDER

writes FOLDER/xhand.urdf, one URDF + OBJ per training object (a fixed base and
a revolute joint about -z, positive = fastening) and FOLDER/assets.json with the
hand's base orientation, the nominal initial joint targets and the object's
offset in the hand frame, so both backends grasp the same objects the same way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TRAIN_SHAPES = {"nut": ("triangular",), "screwdriver": ("octagon", "dodecagon")}


def _obj_text(vertices: np.ndarray) -> str:
    """A closed convex prism: vertices are the bottom outline then the top outline (twins.objects.extrude)."""
    n = len(vertices) // 2
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"f 1 {i + 2} {i + 1}" for i in range(1, n - 1)]  # bottom, facing -z
    lines += [f"f {n + 1} {n + i + 1} {n + i + 2}" for i in range(1, n - 1)]  # top, facing +z
    for i in range(n):
        a, b = i + 1, (i + 1) % n + 1
        lines += [f"f {a} {b} {n + b}", f"f {a} {n + b} {n + a}"]
    return "\n".join(lines) + "\n"


def _object_urdf(mesh: str, mass_kg: float) -> str:
    return f"""<?xml version="1.0"?>
<robot name="object">
<link name="object_base"><inertial><mass value="0.1"/>
<inertia ixx="1e-5" ixy="0" ixz="0" iyy="1e-5" iyz="0" izz="1e-5"/></inertial></link>
<joint name="object_joint" type="revolute"><parent link="object_base"/><child link="object"/>
<axis xyz="0 0 -1"/><limit lower="-1e6" upper="1e6" effort="100" velocity="100"/><dynamics friction="0.2"/></joint>
<link name="object"><inertial><mass value="{mass_kg}"/>
<inertia ixx="1e-5" ixy="0" ixz="0" iyy="1e-5" iyz="0" izz="1e-5"/></inertial>
<collision><geometry><mesh filename="{mesh}"/></geometry></collision>
<visual><geometry><mesh filename="{mesh}"/></geometry></visual></link>
</robot>
"""


def write_assets(folder: Path) -> Path:
    import pybullet as pb

    from twins import objects, xhand_model
    from twins.bullet import load_hand, official_init_canonical, tilted_hand_orientation

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "xhand.urdf").write_text(xhand_model.hand_urdf())
    meta: dict[str, dict] = {}
    client = pb.connect(pb.DIRECT)
    try:
        base_quat = tilted_hand_orientation(0.0, 0.0)
        orn = tilted_hand_orientation(np.deg2rad(25.0), 0.0)
        hand_pos = np.array([0.0, 0.0, 0.21])
        hand = load_hand(client, hand_pos, orn)
        rot = np.array(pb.getMatrixFromQuaternion(orn)).reshape(3, 3)
        for task, shapes in TRAIN_SHAPES.items():
            urdfs = []
            for shape in shapes:
                geom = objects.object_geometry(task, shape)
                (folder / f"{task}_{shape}.obj").write_text(_obj_text(geom.parts[0]))
                (folder / f"{task}_{shape}.urdf").write_text(_object_urdf(f"{task}_{shape}.obj", geom.mass_kg))
                urdfs.append(f"{task}_{shape}.urdf")
            q0 = official_init_canonical(task)
            centre = hand.grasp_centre(q0)
            meta[task] = {
                "hand_urdf": "xhand.urdf",
                "hand_base_link": xhand_model.HandModelOptions().palm_link,
                "hand_base_quat": list(base_quat),
                "object_urdfs": urdfs,
                "object_joint": "object_joint",
                "object_link": "object",
                "object_offset_m": [float(x) for x in rot.T @ (centre - hand_pos)],
                "q_default": [float(x) for x in q0],
            }
    finally:
        pb.disconnect(client)
    path = folder / "assets.json"
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m policies.rl.backends.isaacgym_assets FOLDER")
    print(f"wrote {write_assets(Path(sys.argv[1]))}")
