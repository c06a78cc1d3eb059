"""The simplified RL world's recipe, written once for every backend (PyBullet here, IsaacGym on GPUs).

The authors' training world (shared reference xhand_left.md, method.md): a left
XHand fixed in space, tilted, hand gravity off, over an object on a revolute
joint whose friction is a PhysX articulation coefficient on the joint's
non-contact load. NOMINAL is that world's training scene; RANDOMISATION its
per-episode ranges. Pure Python + numpy, importable on Python 3.8 (IsaacGym's
interpreter): no SDK imports here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

GRAVITY_M_S2 = 9.81
PHYSICS_HZ, CONTROL_HZ = 200.0, 20.0
SOLVER_ITERATIONS = 8  # PhysX position iterations of the authors' setup (the IsaacGym backend)
# PyBullet's sequential-impulse solver enforces an object's friction motor against the fingers' contact
# impulses only once it has converged: at 8 iterations a friction bound 5 or 20 times the nominal one turned
# nothing less; at 64 the released gaits keep their nominal rates and twice the friction stops the nut
# (docs/twins.md, "Friction against the fingers"). PhysX solves articulation joint friction inside the articulation.
BULLET_SOLVER_ITERATIONS = 64
ARMATURE_KGM2 = 0.001  # rotor inertia about every hand joint axis
HAND_JOINT_FRICTION_NM = 0.01
OBJECT_FRICTION_COEFF = 0.2  # PhysX: friction torque = coefficient x |non-contact joint reaction force|
UNCLAMPED_EFFORT_NM = 300.0  # "unclamped": only a software clip
# The authors' effort array is indexed in DOF order by mistake; in effect (policy order)
# [0.4, 1.1, 0.4, 1.1, 0.4, 1.1, 0.4, 1.1, 1.1, 0.4, 1.1, 1.1]; the same in canonical order:
EFFECTIVE_EFFORT_NM: tuple[float, ...] = (0.4, 1.1, 1.1, 0.4, 1.1, 0.4, 1.1, 0.4, 1.1, 1.1, 1.1, 0.4)

# The authors' simulation's joint limits (they override the URDF's), canonical order
# (thumb_bend, rota1, rota2, index_bend, index_j1, index_j2, mid_j1, mid_j2, ring_j1, ring_j2, pinky_j1, pinky_j2);
# thumb_bend differs by task: [0, 1.83] nut, [0.6, 1.73] screwdriver.
SIM_LOWER_RAD: dict[str, tuple[float, ...]] = {
    "nut": (0.0, -1.05, -0.17, -0.175) + (0.0,) * 8,
    "screwdriver": (0.6, -1.05, -0.17, -0.175) + (0.0,) * 8,
}
SIM_UPPER_RAD: dict[str, tuple[float, ...]] = {
    "nut": (1.83, 1.57, 1.83, 0.175) + (1.92,) * 8,
    "screwdriver": (1.73, 1.57, 1.83, 0.175) + (1.92,) * 8,
}
# Initial hand targets of the authors' training, canonical order: the nut's is the deploy grasp; the
# screwdriver's "screwdriver_inclined" holds the handle with the ring finger too (the values of the
# authors' task source as quoted in public derivatives: index_bend -0.036, index 1.15/0.5, middle
# 0.925/0.58, ring 1.3/0.43, thumb_bend 1.455, rota1 0.817, rota2 0.154).
TRAIN_INIT_RAD: dict[str, tuple[float, ...]] = {
    "nut": (1.3, 0.6, 0.45, -0.17, 1.1, 0.4, 1.1, 0.4, 0.0, 0.0, 0.0, 0.0),
    "screwdriver": (1.455, 0.817, 0.154, -0.036, 1.15, 0.5, 0.925, 0.58, 1.3, 0.43, 0.0, 0.0),
}
TRAIN_ACTION_SCALE: dict[str, float] = {"nut": 0.04167, "screwdriver": 0.05}

# Hand placement: left_hand_link at HAND_POS_M, rotated R_y(tilt_y) R_x(90 deg - tilt), tilt 25 deg nominal.
HAND_POS_M: tuple[float, float, float] = (0.0, 0.0, 0.21)

# The left XHand's link names (twins.xhand_left builds them); thumb, index, middle, ring, pinky.
PALM_LINK = "left_hand_link"
DISTAL_LINKS: tuple[str, ...] = (
    "left_hand_thumb_rota_link2",
    "left_hand_index_rota_link2",
    "left_hand_mid_link2",
    "left_hand_ring_link2",
    "left_hand_pinky_link2",
)
TIP_LINKS: tuple[str, ...] = (
    "left_hand_thumb_rota_tip",
    "left_hand_index_rota_tip",
    "left_hand_mid_tip",
    "left_hand_ring_tip",
    "left_hand_pinky_tip",
)
PAD_LINKS: tuple[str, ...] = tuple(d + "_pad" for d in DISTAL_LINKS)


@dataclass(frozen=True)
class Shape:
    """A training object: an outline extruded between z0 and z1 above the object's base (metres)."""

    name: str
    sides: int
    circumradius_m: float
    corner_radius_m: float
    z0_m: float
    z1_m: float
    mass_kg: float

    def outline(self, per_corner: int = 6) -> np.ndarray:
        """(n, 2) convex outline; rounded corners are circles at the corners of a smaller polygon."""
        step = 2 * math.pi / self.sides
        if self.corner_radius_m <= 0:
            a = step * np.arange(self.sides)
            return self.circumradius_m * np.stack([np.cos(a), np.sin(a)], 1)
        inner, r, pts = self.circumradius_m - self.corner_radius_m, self.corner_radius_m, []
        for k in range(self.sides):
            c = inner * np.array([math.cos(k * step), math.sin(k * step)])
            for t in np.linspace(k * step - step / 2, k * step + step / 2, per_corner):
                pts.append(c + r * np.array([math.cos(t), math.sin(t)]))
        return np.array(pts)

    def vertices(self, scale: float = 1.0) -> np.ndarray:
        """(2n, 3) prism vertices about the object's axis: bottom ring then top ring."""
        o = self.outline() * scale
        n = len(o)
        bottom = np.column_stack([o, np.full(n, self.z0_m)])
        top = np.column_stack([o, np.full(n, self.z1_m)])
        return np.concatenate([bottom, top])


# The training nut: a rounded triangle (R 21 mm; corner radius 4 mm is this model's choice), 97.5 mm tall,
# z 0.02 .. 0.1175 m above its base. Handles: 25 mm across corners, 100 mm long, 0.056 kg.
SHAPES: dict[str, tuple[Shape, ...]] = {
    "nut": (Shape("triangular", 3, 0.021, 0.004, 0.02, 0.1175, 0.05),),
    "screwdriver": (
        Shape("octagon", 8, 0.0125, 0.0, 0.02, 0.12, 0.056),
        Shape("dodecagon", 12, 0.0125, 0.0, 0.02, 0.12, 0.056),
    ),
}
TASKS: tuple[str, ...] = tuple(SHAPES)


@dataclass
class SceneParams:
    """One environment's scene. Contact mu is the PAIR's value (PhysX averages, PyBullet multiplies)."""

    shape: str = "triangular"
    mass_kg: float = 0.05
    com_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    contact_mu: float = 1.0
    restitution: float = 0.0
    scale: float = 1.0
    kp: float = 3.0
    kd: float = 0.01
    tilt_rad: float = math.radians(25.0)  # hand tilt below horizontal (R_x(90 deg - tilt))
    tilt_y_rad: float = 0.0
    object_xy_m: tuple[float, float] = (0.02125, 0.06375)
    friction_coeff: float = OBJECT_FRICTION_COEFF

    @property
    def object_friction_nm(self) -> float:
        """PhysX's load-dependent joint friction with only gravity loading the joint: 0.2 x m x g."""
        return object_friction_nm(self.friction_coeff, self.mass_kg * GRAVITY_M_S2)


def object_friction_nm(coeff: float, reaction_n: float) -> float:
    """Joint friction torque of PhysX articulations: coefficient x |non-contact reaction|, no lever arm."""
    return coeff * abs(reaction_n)


NOMINAL: dict[str, SceneParams] = {
    "nut": SceneParams(),
    "screwdriver": SceneParams(shape="octagon", mass_kg=0.056, contact_mu=4.0, object_xy_m=(0.01275, 0.06375)),
}


@dataclass(frozen=True)
class Randomisation:
    """method.md's per-episode ranges (uniform unless said)."""

    mass_kg: tuple[float, float] = (0.04, 0.06)
    com_m: float = 0.001  # +- per axis
    contact_mu: tuple[float, float] = (0.5, 8.0)
    restitution: tuple[float, float] = (0.0, 1.0)
    nut_scales: tuple[float, ...] = (0.95, 1.0, 1.05)
    handle_scale: tuple[float, float] = (0.85, 1.25)
    kp: tuple[float, float] = (2.7, 3.3)
    kd: tuple[float, float] = (0.009, 0.011)
    tilt_deg: tuple[float, float] = (20.0, 30.0)
    tilt_y_deg: tuple[float, float] = (-5.0, 5.0)
    nut_x_m: tuple[float, float] = (0.0175, 0.025)  # 0.0175 + U(0, 7.5 mm)
    nut_y_m: tuple[float, float] = (0.06, 0.0675)
    init_joint_frac: float = 0.1  # +- of the half range


RANDOMISATION = Randomisation()


def sample_scene(task: str, rng: np.random.Generator, r: Randomisation = RANDOMISATION) -> SceneParams:
    """One randomised scene (the screwdriver's scale rounded to 1e-3 so shapes can be reused)."""
    shapes = SHAPES[check_task(task)]
    nominal = NOMINAL[task]
    shape = shapes[int(rng.integers(len(shapes)))]
    nut = task == "nut"
    scale = float(rng.choice(r.nut_scales)) if nut else round(float(rng.uniform(*r.handle_scale)), 3)
    xy = (float(rng.uniform(*r.nut_x_m)), float(rng.uniform(*r.nut_y_m))) if nut else nominal.object_xy_m
    return replace(
        nominal,
        shape=shape.name,
        mass_kg=float(rng.uniform(*r.mass_kg)),
        com_m=rng.uniform(-r.com_m, r.com_m, 3),
        contact_mu=float(rng.uniform(*r.contact_mu)),
        restitution=float(rng.uniform(*r.restitution)),
        scale=scale,
        kp=float(rng.uniform(*r.kp)),
        kd=float(rng.uniform(*r.kd)),
        tilt_rad=math.radians(float(rng.uniform(*r.tilt_deg))),
        tilt_y_rad=math.radians(float(rng.uniform(*r.tilt_y_deg))),
        object_xy_m=xy,
    )


def nominal_scene(task: str) -> SceneParams:
    return replace(NOMINAL[check_task(task)])


def shape(task: str, name: str) -> Shape:
    for s in SHAPES[check_task(task)]:
        if s.name == name:
            return s
    raise ValueError(f"unknown {task} shape {name!r}; choose from {[s.name for s in SHAPES[task]]}")


def hand_rotation(tilt_rad: float, tilt_y_rad: float = 0.0) -> np.ndarray:
    """World <- left_hand_link: R_y(tilt_y) R_x(90 deg - tilt); fingers along +y, tilted down, palm down."""
    a, b = math.pi / 2 - tilt_rad, tilt_y_rad
    rx = np.array([[1.0, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1.0, 0], [-math.sin(b), 0, math.cos(b)]])
    return ry @ rx


def quat_xyzw(r: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix (no 180-degree rotations in this world)."""
    w = math.sqrt(max(1e-12, 1.0 + float(np.trace(r)))) / 2.0
    return (
        float(r[2, 1] - r[1, 2]) / (4 * w),
        float(r[0, 2] - r[2, 0]) / (4 * w),
        float(r[1, 0] - r[0, 1]) / (4 * w),
        w,
    )


# Privileged (teacher-only) inputs, in order; fingertip entries are the authors' `_tip` links.
PRIVILEGED_LAYOUT: tuple[tuple[str, int], ...] = (
    ("object_pos", 3),
    ("object_quat", 4),
    ("object_linvel", 3),
    ("object_angvel", 3),
    ("object_joint_angle", 1),
    ("object_joint_vel", 1),
    ("tip_pos", 15),
    ("tip_quat", 20),
    ("tip_linvel", 15),
    ("object_mass", 1),
    ("object_com", 3),
    ("friction", 1),
    ("object_scale", 1),
    ("restitution", 1),
    ("kp", 1),
    ("kd", 1),
    ("hand_pos", 3),
    ("hand_quat", 4),
    ("shape_id", 1),
)
PRIVILEGED_DIM = sum(n for _, n in PRIVILEGED_LAYOUT)
FINGERTIPS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")


def privileged_names() -> tuple[str, ...]:
    out: list[str] = []
    for name, n in PRIVILEGED_LAYOUT:
        if n == 1:
            out.append(name)
        elif name.startswith("tip_"):
            axes = "xyzw" if name == "tip_quat" else "xyz"
            out += [f"{name}_{t}_{a}" for t in FINGERTIPS for a in axes]
        else:
            out += [f"{name}_{a}" for a in ("xyzw" if n == 4 else "xyz")]
    return tuple(out)


def check_task(task: str) -> str:
    if task not in SHAPES:
        raise ValueError(f"unknown task {task!r}; choose from {list(SHAPES)}")
    return task
