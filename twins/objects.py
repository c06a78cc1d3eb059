"""Object outlines for nuts and screwdriver handles.

Two families, on purpose:

- `object_geometry(task, shape)`: the simplified RL world's training objects, the method's shapes as
  the skills were trained on them (thick rounded-triangle nut ~21 mm circumradius; 25 mm-across-corner
  octagon and dodecagon handles, 100 mm long). They turn on a plain revolute joint, so nothing has to
  fit a bolt.
- `twin_object(task, shape)`: the full twin's objects, the physical parts of the real cell. Every nut
  fits the 25 mm bolt through a bore with a wall of at least 3 mm and stays within +-15 % of the
  training nut's 42 mm across corners (the skill's grasp); handles keep the training handle's 25 mm
  across corners. Sizes and the reasons are in docs/twins.md.

Outlines are polygons in the object's x-y plane (metres, unscaled), extruded along z. The cross nut is
not convex: it is a compound of two crossing boxes (`boxes`), since pybullet 3.2.7's
createCollisionShapeArray does not take vertex lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexscrew_sdk.errors import ConfigError
from twins.grasp import GRASP_BELOW_TOP_M

NUT_SHAPES: tuple[str, ...] = ("triangular", "square", "hexagonal", "cross")
HANDLE_SHAPES: tuple[str, ...] = ("octagon", "dodecagon", "pentagon")  # pentagon: never used in training
TASKS: tuple[str, ...] = ("nut", "screwdriver")
NUT_HEIGHT_M = 0.025
# A thick nut, as the method's: the left hand's pads (the thumb's 34 mm wide) grip a band about 40 mm tall
# around the grasp point; a 25 mm nut left the thumb pressing on its top face.
TWIN_NUT_HEIGHT_M = 0.050
HANDLE_LENGTH_M = 0.100
HANDLE_KG = 0.056
NUT_KG = 0.05
BOLT_RADIUS_M = 0.0125  # the method's bolt: 25 mm across
BORE_RADIUS_M = BOLT_RADIUS_M  # a nut's bore is the bolt's major diameter (the thread's flanks interlock)
MIN_WALL_M = 0.003
TRAINING_NUT_ACROSS_CORNERS_M = 0.042
TRAINING_HANDLE_ACROSS_CORNERS_M = 0.025
GRASP_TOLERANCE = 0.15  # across corners within this share of the training object's: the skill's grasp


@dataclass(frozen=True)
class ObjectGeometry:
    """Convex parts (each an (n, 3) vertex array), the nominal grasp radius and height.

    `boxes` (half extents, one triple per box, centred on the axis) replaces `parts` for collision
    when set: a non-convex outline as a compound of boxes."""

    parts: tuple[np.ndarray, ...]
    grasp_radius_m: float  # mean distance from the axis to the surface: where fingers meet it
    height_m: float
    mass_kg: float
    boxes: tuple[tuple[float, float, float], ...] = ()
    across_corners_m: float = 0.0  # the outline's largest diameter through the axis
    inradius_m: float = 0.0  # the closest the outline comes to the axis
    bore_radius_m: float = 0.0  # 0 for handles (no bore)

    @property
    def wall_m(self) -> float:
        """Thinnest material between the bore and the outside (nuts)."""
        return self.inradius_m - self.bore_radius_m


def polygon(n: int, circumradius_m: float, phase_rad: float = 0.0) -> np.ndarray:
    a = phase_rad + 2 * np.pi * np.arange(n) / n
    return np.stack([circumradius_m * np.cos(a), circumradius_m * np.sin(a)], axis=1)


def rounded_polygon(n: int, circumradius_m: float, corner_radius_m: float, per_corner: int = 6) -> np.ndarray:
    """Convex hull of circles of corner_radius at the corners of a regular n-gon."""
    centres = polygon(n, circumradius_m - corner_radius_m)
    pts = []
    for k, c in enumerate(centres):
        mid = 2 * np.pi * k / n
        for t in np.linspace(mid - np.pi / n, mid + np.pi / n, per_corner):
            pts.append(c + corner_radius_m * np.array([np.cos(t), np.sin(t)]))
    return np.array(pts)


def extrude(outline: np.ndarray, z0: float, z1: float) -> np.ndarray:
    n = len(outline)
    return np.concatenate([np.column_stack([outline, np.full(n, z0)]), np.column_stack([outline, np.full(n, z1)])])


def _inradius(outline: np.ndarray) -> float:
    """Distance from the axis to the nearest edge of a convex outline (its points in order)."""
    n = len(outline)
    edges = [(outline[i], outline[(i + 1) % n]) for i in range(n)]
    return float(min(abs((b - a)[0] * a[1] - (b - a)[1] * a[0]) / np.linalg.norm(b - a) for a, b in edges))


def _mean_radius(outline: np.ndarray) -> float:
    """Average of in- and circumradius: a grasp distance that suits every orientation."""
    return 0.5 * (float(np.linalg.norm(outline, axis=1).max()) + _inradius(outline))


def _convex(outline: np.ndarray, z0: float, z1: float, mass_kg: float, bore_m: float) -> ObjectGeometry:
    return ObjectGeometry(
        (extrude(outline, z0, z1),),
        _mean_radius(outline),
        z1 - z0,
        mass_kg,
        across_corners_m=2.0 * float(np.linalg.norm(outline, axis=1).max()),
        inradius_m=_inradius(outline),
        bore_radius_m=bore_m,
    )


def _check(task: str, shape: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    valid = valid_shapes(task)
    if shape not in valid:
        kind = "nut" if task == "nut" else "handle"
        raise ConfigError(f"unknown {kind} shape {shape!r}; choose one of {list(valid)}")


# The grasp point (z = 0) sits this far below the handle's top, as on the training handle (the fingertips meet
# it 55 mm below its top, twins.grasp). At 25 mm the middle finger pressed down on the top face (~70 N).
HANDLE_ABOVE_GRASP_M = GRASP_BELOW_TOP_M["screwdriver"]
# The handle's bottom carries the blade: the screwdriver pivots there, in the screw's slot.
HANDLE_BLADE_BELOW_GRASP_M = HANDLE_LENGTH_M - HANDLE_ABOVE_GRASP_M


def _handle(shape: str, circumradius_m: float) -> ObjectGeometry:
    sides = {"octagon": 8, "dodecagon": 12, "pentagon": 5}
    top = HANDLE_ABOVE_GRASP_M
    return _convex(polygon(sides[shape], circumradius_m), top - HANDLE_LENGTH_M, top, HANDLE_KG, 0.0)


def object_geometry(task: str, shape: str) -> ObjectGeometry:
    """The RL world's training object; bad names raise ConfigError listing the valid ones."""
    _check(task, shape)
    if task == "screwdriver":
        return _handle(shape, 0.0125)
    h = NUT_HEIGHT_M
    if shape == "cross":
        return twin_object(task, shape)
    outlines = {
        "triangular": rounded_polygon(3, 0.021, 0.004),
        "square": polygon(4, 0.018, np.pi / 4),
        "hexagonal": polygon(6, 0.016),
    }
    return _convex(outlines[shape], -h / 2, h / 2, NUT_KG, 0.0)


# The full twin's nuts: (circumradius, corner radius) chosen so that the wall around the 12.5 mm bore is
# >= 3 mm and across corners stays within +-15 % of 42 mm (docs/twins.md, "Objects").
TWIN_TRIANGLE_M = (0.023, 0.009)  # 46 mm across corners; rounded corners give the bore its wall
# The smallest square with a 3 mm wall: its corners come no farther out than needed (the training nut's reach
# 21 mm from the axis); at 23 mm the middle finger rode the corners and the skill stalled.
TWIN_SQUARE_CIRCUMRADIUS_M = 0.022  # 44 mm across corners, 31.1 mm across flats
TWIN_HEXAGON_CIRCUMRADIUS_M = 0.021  # 42 mm across corners, 36.4 mm across flats
TWIN_CROSS_ARM_M = (0.040, 0.024)  # each bar 40 mm long and 24 mm wide: 46.6 mm across corners


def twin_object(task: str, shape: str) -> ObjectGeometry:
    """The full twin's physical object; bad names raise ConfigError listing the valid ones."""
    _check(task, shape)
    if task == "screwdriver":
        return _handle(shape, TRAINING_HANDLE_ACROSS_CORNERS_M / 2)
    h = TWIN_NUT_HEIGHT_M
    if shape == "cross":
        length, width = TWIN_CROSS_ARM_M
        bar = np.array([[-length, -width], [length, -width], [length, width], [-length, width]]) / 2
        boxes = ((length / 2, width / 2, h / 2), (width / 2, length / 2, h / 2))
        return ObjectGeometry(
            (extrude(bar, -h / 2, h / 2), extrude(bar[:, ::-1], -h / 2, h / 2)),
            0.25 * (np.hypot(length, width) + width),
            h,
            NUT_KG,
            boxes=boxes,
            across_corners_m=float(np.hypot(length, width)),
            inradius_m=float(width / np.sqrt(2.0)),  # the re-entrant corners between the arms
            bore_radius_m=BORE_RADIUS_M,
        )
    outlines = {
        "triangular": rounded_polygon(3, *TWIN_TRIANGLE_M),
        "square": polygon(4, TWIN_SQUARE_CIRCUMRADIUS_M, np.pi / 4),
        "hexagonal": polygon(6, TWIN_HEXAGON_CIRCUMRADIUS_M),
    }
    return _convex(outlines[shape], -h / 2, h / 2, NUT_KG, BORE_RADIUS_M)


def valid_shapes(task: str) -> tuple[str, ...]:
    return NUT_SHAPES if task == "nut" else HANDLE_SHAPES
