"""Where a view's points land on its screen: their pixel positions under a VTK camera, the
points a still frame of a big cloud needs (the nearest in each pixel), and the shape a
click falls on.

Software OpenGL (Mesa's llvmpipe, as under Xvfb or a remote desktop) pays about a
microsecond a point whatever its size on screen, so a 1 M-point cloud costs over a second
a frame, while a 1000 x 700 view can show at most one point a pixel: the depth test keeps
only the nearest. :func:`nearest_per_pixel` finds those points in numpy (a projection and
one ``np.minimum.at``, tens of milliseconds for 1 M points) and the view draws only them:
the same picture from a tenth of the points (measured in ``benchmarks/big_cloud_fps.py``).
"""

from __future__ import annotations

import numpy as np

DEPTH_LEVELS = 1 << 20
"""Depths are ranked in this many levels (ties keep the lower index): far finer than a pixel."""


def camera_matrix(camera, width: int, height: int) -> np.ndarray:
    """The 4 x 4 matrix (float64) from world coordinates to the clip space of ``camera``
    (a ``vtkCamera``) in a ``width`` x ``height`` pixel viewport."""
    m = camera.GetCompositeProjectionTransformMatrix(width / max(1, height), -1, 1)
    return np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])


def project(
    columns: np.ndarray, matrix: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions ``x``, ``y`` (origin at the bottom left, as VTK's display coordinates)
    and a depth (larger is farther) of points given as ``columns`` (3, N) float32.

    Points behind a perspective camera get ``x = nan``. Written per coordinate (three
    multiply-adds each) because ``(N, 3) @ (3, 3)`` is many times slower in numpy."""

    def row(i: int) -> np.ndarray:
        out = columns[0] * np.float32(matrix[i, 0])
        out += columns[1] * np.float32(matrix[i, 1])
        out += columns[2] * np.float32(matrix[i, 2])
        out += np.float32(matrix[i, 3])
        return out

    x, y, depth = row(0), row(1), row(2)
    if not np.allclose(matrix[3], [0, 0, 0, 1]):  # perspective: divide by w
        w = row(3)
        w[w <= 0] = np.nan
        x /= w
        y /= w
        depth /= w
    x += 1
    x *= np.float32(width / 2)
    y += 1
    y *= np.float32(height / 2)
    return x, y, depth


def nearest_per_pixel(x: np.ndarray, y: np.ndarray, depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Indices of the points a depth-tested frame shows: in each pixel of the ``width`` x
    ``height`` view, the nearest point there (points off the view are left out).

    One point a pixel, not one per point-size block: keeping the nearest point of each 2 x 2
    block left a quarter of the pixels different from the whole cloud's picture, one a pixel
    under 2% (``benchmarks/big_cloud_fps.py``)."""
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)  # nan compares False
    index = np.flatnonzero(inside)
    if not len(index):
        return index
    pixel = y[index].astype(np.int64) * width + x[index].astype(np.int64)
    d = depth[index]
    lo, hi = float(d.min()), float(d.max())
    rank = ((d - lo) * np.float32((DEPTH_LEVELS - 1) / max(hi - lo, 1e-30))).astype(np.int64)
    packed = (rank << 32) | index  # the minimum is the nearest, then the lowest index
    empty = np.iinfo(np.int64).max
    best = np.full(width * height, empty, np.int64)
    np.minimum.at(best, pixel, packed)
    return best[best != empty] & 0xFFFFFFFF


def cloud_at(
    x: np.ndarray, y: np.ndarray, starts: np.ndarray, click: tuple[float, float], radius: float
) -> int | None:
    """Which cloud a click at pixel ``click`` falls on: the one owning the point nearest to
    it, if that point is within ``radius`` pixels. ``starts`` are the clouds' first indices
    in the merged points (ascending, the first 0)."""
    if not len(x):
        return None
    d2 = (x - click[0]) ** 2 + (y - click[1]) ** 2
    nearest = int(np.nanargmin(d2)) if np.isfinite(d2).any() else -1
    if nearest < 0 or d2[nearest] > radius**2:
        return None
    return int(np.searchsorted(starts, nearest, side="right") - 1)
