"""How a density slice is made readable: a robust colour range and log-density contours.

A slice of log p through 3-D space spans thousands of nats (−4,838 to 2.4 on a trained
chair): the plane is mostly far from the shape, where the density is negligible. A colour
scale over the whole range paints the plane one colour and hides the structure near the
shape. :func:`robust_range` keeps the top :data:`SLICE_RANGE_NATS` nats below the 99.5th
percentile (values under it are drawn in the lowest colour), and :func:`contour_levels` puts
iso-density lines at 0.5, 1, 2, 4 and 8 nats below that top: each line marks where the
density falls to e^-k of its peak, which reads as the shape's "thickness" under the model.

:func:`contour_segments` is marching squares (Lorensen & Cline 1987, in 2-D) on the grid:
each cell whose corners straddle the level contributes a segment between the linearly
interpolated crossings of its edges.
"""

from __future__ import annotations

import numpy as np

SLICE_RANGE_NATS = 12.0
"""The colour scale's depth below its top: e^-12 ≈ 6e-6 of the peak density."""
CONTOUR_NATS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Contours this many nats below the colour scale's top."""


def robust_range(log_p: np.ndarray, depth: float = SLICE_RANGE_NATS) -> tuple[float, float]:
    """(lo, hi): hi the 99.5th percentile of the finite values, lo the larger of the 2nd
    percentile and ``hi - depth``; (0, 1) when nothing is finite."""
    finite = np.asarray(log_p, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0, 1.0
    hi = float(np.percentile(finite, 99.5))
    lo = max(float(np.percentile(finite, 2)), hi - depth)
    return (lo, hi) if hi > lo else (hi - 1.0, hi)


def contour_levels(lo: float, hi: float) -> list[float]:
    """The levels of :data:`CONTOUR_NATS` below ``hi`` that lie inside ``(lo, hi)``."""
    return [hi - k for k in CONTOUR_NATS if hi - k > lo]


def contour_segments(field: np.ndarray, s: np.ndarray, t: np.ndarray, level: float) -> np.ndarray:
    """Line segments (M, 2, 2) in (s, t) where ``field`` (len(s), len(t)), sampled at
    ``field[i, j] = f(s[i], t[j])``, crosses ``level``. A saddle cell (all four edges
    crossed) gets two segments, pairing each edge with its neighbour."""
    f = np.asarray(field, dtype=np.float64)
    f = np.where(np.isfinite(f), f, -np.inf)
    corners = (f[:-1, :-1], f[1:, :-1], f[1:, 1:], f[:-1, 1:])  # (i,j) (i+1,j) (i+1,j+1) (i,j+1)
    s0, t0 = np.meshgrid(s[:-1], t[:-1], indexing="ij")
    s1, t1 = np.meshgrid(s[1:], t[1:], indexing="ij")
    xy = ((s0, t0), (s1, t0), (s1, t1), (s0, t1))
    masks, points = [], []
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        (sa, ta), (sb, tb) = xy[k], xy[(k + 1) % 4]
        masks.append((a >= level) != (b >= level))
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip(np.nan_to_num((level - a) / (b - a), nan=0.5), 0.0, 1.0)
        points.append(np.stack([sa + w * (sb - sa), ta + w * (tb - ta)], axis=-1))
    mask = np.stack(masks, axis=-1).reshape(-1, 4)
    pts = np.stack(points, axis=-2).reshape(-1, 4, 2)
    count = mask.sum(axis=1)
    two = count == 2
    order = np.argsort(~mask[two], axis=1, kind="stable")[:, :2]
    rows = np.flatnonzero(two)
    segments = [pts[rows[:, None], order]]
    four = np.flatnonzero(count == 4)
    if len(four):
        segments += [pts[four][:, [0, 1]], pts[four][:, [2, 3]]]
    return np.concatenate(segments) if segments else np.zeros((0, 2, 2))
