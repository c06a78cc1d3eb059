"""Object outlines for nuts and screwdriver handles, shared by both worlds.

Outlines are convex polygons in the object's x-y plane (metres, unscaled),
extruded along z. A cross nut is not convex, so it is built as two crossing
bars (a compound of convex parts). Dimensions follow the method's training
objects: thick rounded-triangle nut ~21 mm circumradius; 25 mm-across-corner
octagon and dodecagon handles, 100 mm long.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexscrew_sdk.errors import ConfigError

NUT_SHAPES: tuple[str, ...] = ("triangular", "square", "hexagonal", "cross")
HANDLE_SHAPES: tuple[str, ...] = ("octagon", "dodecagon", "pentagon")  # pentagon: never used in training
TASKS: tuple[str, ...] = ("nut", "screwdriver")
NUT_HEIGHT_M = 0.025
HANDLE_LENGTH_M = 0.100
HANDLE_KG = 0.056
NUT_KG = 0.05
BOLT_RADIUS_M = 0.0125


@dataclass(frozen=True)
class ObjectGeometry:
    """Convex parts (each an (n, 3) vertex array), the nominal grasp radius and height."""

    parts: tuple[np.ndarray, ...]
    grasp_radius_m: float  # mean distance from the axis to the surface: where fingers meet it
    height_m: float
    mass_kg: float


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


def _mean_radius(outline: np.ndarray) -> float:
    """Average of in- and circumradius: a grasp distance that suits every orientation."""
    circ = float(np.linalg.norm(outline, axis=1).max())
    n = len(outline)
    edges = [(outline[i], outline[(i + 1) % n]) for i in range(n)]
    inner = min(abs((b - a)[0] * a[1] - (b - a)[1] * a[0]) / np.linalg.norm(b - a) for a, b in edges)
    return 0.5 * (circ + float(inner))


def object_geometry(task: str, shape: str) -> ObjectGeometry:
    """Geometry of a named object; bad names raise ConfigError listing the valid ones."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if task == "nut":
        h = NUT_HEIGHT_M
        if shape == "cross":
            bar = np.array([[-0.021, -0.007], [0.021, -0.007], [0.021, 0.007], [-0.021, 0.007]])
            parts = (extrude(bar, -h / 2, h / 2), extrude(bar[:, ::-1], -h / 2, h / 2))
            return ObjectGeometry(parts, 0.014, h, NUT_KG)
        outlines = {
            "triangular": rounded_polygon(3, 0.021, 0.004),
            "square": polygon(4, 0.018, np.pi / 4),
            "hexagonal": polygon(6, 0.016),
        }
        if shape not in outlines:
            raise ConfigError(f"unknown nut shape {shape!r}; choose one of {list(NUT_SHAPES)}")
        outline = outlines[shape]
        return ObjectGeometry((extrude(outline, -h / 2, h / 2),), _mean_radius(outline), h, NUT_KG)
    sides = {"octagon": 8, "dodecagon": 12, "pentagon": 5}
    if shape not in sides:
        raise ConfigError(f"unknown handle shape {shape!r}; choose one of {list(HANDLE_SHAPES)}")
    outline = polygon(sides[shape], 0.0125)
    # The grasp point (z = 0) sits 25 mm below the top of the handle.
    part = extrude(outline, -(HANDLE_LENGTH_M - 0.025), 0.025)
    return ObjectGeometry((part,), _mean_radius(outline), HANDLE_LENGTH_M, HANDLE_KG)


def valid_shapes(task: str) -> tuple[str, ...]:
    return NUT_SHAPES if task == "nut" else HANDLE_SHAPES
