"""Convex hulls of small point sets (a few hundred points), as triangle meshes and OBJ text.

The hand's collision shapes are convex hulls of published support points. PyBullet and
PhysX both take the convex hull of a collision mesh's vertices, but OBJ files need faces
(and a viewer wants the right ones), so the hull is computed here: every plane through
three points that has all points on one side is a face; its coplanar points are ordered
around the face normal and fanned into triangles. O(n^3) is fine for n < 200.
"""

from __future__ import annotations

import itertools

import numpy as np

TOLERANCE_M = 2e-5  # points this close to a face plane lie on it (the data are rounded to 1e-5 m)


def convex_hull(points: np.ndarray, tol: float = TOLERANCE_M) -> tuple[np.ndarray, np.ndarray]:
    """(hull vertices (m, 3), triangles (t, 3) of indices into them, wound outwards)."""
    p = np.unique(np.asarray(points, dtype=float).reshape(-1, 3), axis=0)
    if len(p) < 4:
        raise ValueError(f"a convex hull needs at least 4 distinct points, got {len(p)}")
    tri = np.array(list(itertools.combinations(range(len(p)), 3)))
    n = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    norm = np.linalg.norm(n, axis=1)
    keep = norm > 1e-12
    tri, n = tri[keep], n[keep] / norm[keep, None]
    dist = p @ n.T - np.einsum("ij,ij->i", n, p[tri[:, 0]])[None, :]  # (points, planes)
    below, above = (dist <= tol).all(0), (dist >= -tol).all(0)
    n = np.where(above[:, None], -n, n)[below | above]  # outward normals of supporting planes
    if len(n) == 0:
        raise ValueError("points are coplanar: no convex hull volume")
    offsets = np.einsum("ij,ij->i", n, p[tri[below | above, 0]])
    on_plane = np.abs(p @ n.T - offsets[None, :]) <= tol  # (points, planes)
    _, first = np.unique(on_plane.T, axis=0, return_index=True)  # one face per set of coplanar points
    faces: list[list[int]] = []
    for normal, on in zip(n[first], on_plane[:, first].T, strict=True):
        on = np.flatnonzero(on)
        centre = p[on].mean(0)
        u = p[on[0]] - centre
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        order = on[np.argsort(np.arctan2((p[on] - centre) @ v, (p[on] - centre) @ u))]
        faces += [[order[0], order[k], order[k + 1]] for k in range(1, len(order) - 1)]
    used = np.unique(np.array(faces))
    remap = -np.ones(len(p), dtype=int)
    remap[used] = np.arange(len(used))
    return p[used], remap[np.array(faces)]


def obj_text(vertices: np.ndarray, triangles: np.ndarray) -> str:
    """Wavefront OBJ (1-based indices) of a triangle mesh."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in triangles]
    return "\n".join(lines) + "\n"
