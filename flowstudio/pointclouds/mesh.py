"""Triangle meshes and their conversion to point clouds by area-weighted surface sampling.

Readers of mesh formats (PLY with faces, OBJ, OFF, STL, VTK) return a :class:`Mesh`;
:func:`sample_surface` turns it into a point cloud the way ShapeNet/ModelNet point sets
are made for PointFlow (Yang et al. 2019): pick a triangle with probability proportional
to its area, then a uniform point inside it (Osada et al. 2002, eq. 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh: ``vertices`` (V, 3) float and ``faces`` (F, 3) int indices."""

    vertices: np.ndarray
    faces: np.ndarray

    def triangle_areas(self) -> np.ndarray:
        """The area of each face, (F,) float64."""
        a, b, c = (self.vertices[self.faces[:, i]].astype(np.float64) for i in range(3))
        return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def triangulate(polygons: list[list[int]]) -> np.ndarray:
    """Fan-triangulate polygons given as vertex index lists; returns (F, 3) int64.

    Polygons with fewer than three vertices (points, lines) are dropped.
    """
    tris: list[tuple[int, int, int]] = []
    for poly in polygons:
        for k in range(1, len(poly) - 1):
            tris.append((poly[0], poly[k], poly[k + 1]))
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def sample_surface(mesh: Mesh, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """``n_points`` points uniformly distributed over the surface of ``mesh``, (n, 3) float32.

    Each point picks a face with probability area / total area, then barycentric
    coordinates ``(1 - sqrt(r1), sqrt(r1) (1 - r2), sqrt(r1) r2)`` with ``r1, r2 ~ U(0, 1)``,
    which are uniform over the triangle. A mesh of zero total area raises ``ValueError``.
    """
    areas = mesh.triangle_areas()
    total = float(areas.sum())
    if not np.isfinite(total) or total <= 0.0:
        raise ValueError("the mesh has no surface area (all faces are degenerate)")
    face_idx = rng.choice(len(areas), size=n_points, p=areas / total)
    tri = mesh.vertices[mesh.faces[face_idx]].astype(np.float64)  # (n, 3 corners, 3)
    r1 = np.sqrt(rng.random(n_points))[:, None]
    r2 = rng.random(n_points)[:, None]
    points = (1.0 - r1) * tri[:, 0] + r1 * (1.0 - r2) * tri[:, 1] + r1 * r2 * tri[:, 2]
    return points.astype(np.float32)
