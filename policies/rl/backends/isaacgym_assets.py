"""Write the IsaacGym backend's assets from the twins' models (run on the SDK's Python).

    python -m policies.rl.backends.isaacgym_assets FOLDER

writes, from the same generator and recipe the PyBullet world uses:
FOLDER/xhand_left_<task>.urdf (twins.xhand_left with the authors' simulation
limits of that task) and its hull meshes in FOLDER/meshes/; one URDF + OBJ per
training object (a fixed base and a revolute joint about -z, positive =
fastening, with the PhysX friction coefficient of twins.rl_recipe); and
FOLDER/assets.json naming them, the link names and the initial targets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from twins import hull, xhand_left
from twins import rl_recipe as recipe


def _object_urdf(mesh: str, shape: recipe.Shape) -> str:
    centre = 0.5 * (shape.z0_m + shape.z1_m)
    return f"""<?xml version="1.0"?>
<robot name="object">
<link name="object_base"><inertial><mass value="0.1"/>
<inertia ixx="1e-5" ixy="0" ixz="0" iyy="1e-5" iyz="0" izz="1e-5"/></inertial></link>
<joint name="object_joint" type="revolute"><parent link="object_base"/><child link="object"/>
<axis xyz="0 0 -1"/><limit lower="-1e6" upper="1e6" effort="100" velocity="100"/>
<dynamics friction="{recipe.OBJECT_FRICTION_COEFF}"/></joint>
<link name="object"><inertial><origin xyz="0 0 {centre}"/><mass value="{shape.mass_kg}"/>
<inertia ixx="1e-5" ixy="0" ixz="0" iyy="1e-5" iyz="0" izz="1e-5"/></inertial>
<collision><geometry><mesh filename="{mesh}"/></geometry></collision>
<visual><geometry><mesh filename="{mesh}"/></geometry></visual></link>
</robot>
"""


def write_assets(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    xhand_left.write_meshes(folder / "meshes")
    meta: dict[str, dict] = {}
    for task, shapes in recipe.SHAPES.items():
        limits = (np.array(recipe.SIM_LOWER_RAD[task]), np.array(recipe.SIM_UPPER_RAD[task]))
        hand = f"xhand_left_{task}.urdf"
        (folder / hand).write_text(xhand_left.hand_urdf(mesh_dir="meshes", limits=limits))
        urdfs = []
        for shape in shapes:
            name = f"{task}_{shape.name}"
            (folder / f"{name}.obj").write_text(hull.obj_text(*hull.convex_hull(shape.vertices())))
            (folder / f"{name}.urdf").write_text(_object_urdf(f"{name}.obj", shape))
            urdfs.append(f"{name}.urdf")
        meta[task] = {
            "hand_urdf": hand,
            "hand_base_link": recipe.PALM_LINK,
            "tip_links": list(recipe.TIP_LINKS),
            "distal_links": list(recipe.DISTAL_LINKS),
            "object_urdfs": urdfs,
            "object_joint": "object_joint",
            "object_link": "object",
            "q_default": [float(x) for x in recipe.TRAIN_INIT_RAD[task]],
        }
    path = folder / "assets.json"
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m policies.rl.backends.isaacgym_assets FOLDER")
    print(f"wrote {write_assets(Path(sys.argv[1]))}")
