"""Make FlowStudio's built-in point-cloud samples, deterministically.

    python samples/make_shapes.py            # writes samples/pointclouds/*

* ``shapes.npz``: ``points`` (200, 1024, 3) float32, ``split`` ('train'/'test', 40 test
  shapes, 8 per class), ``names`` (e.g. ``chair_007``) and ``labels`` (class names):
  five procedural classes (table, chair, lamp, mug, airplane) built from boxes,
  cylinders, cones and tori with random proportions, then surface-sampled uniformly by
  area. Y is up, like ShapeNet; coordinates are on a 1/1024 grid so the file compresses.
* ``torus_knot.ply``: a binary PLY tube mesh around a (2, 3) torus knot (a trefoil),
  the default single shape of the single-shape CNF.

Everything is generated here (no third-party data) and released under CC0.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flowstudio.pointclouds.mesh import Mesh, sample_surface
from flowstudio.pointclouds.writers import atomic_write

OUT = Path(__file__).resolve().parent / "pointclouds"
CLASSES = ("table", "chair", "lamp", "mug", "airplane")
PER_CLASS, TEST_PER_CLASS, POINTS = 40, 8, 1024
GRID = 1024.0  # coordinates are rounded to multiples of 1/GRID

Part = tuple[np.ndarray, np.ndarray]  # vertices, faces


def box(center: tuple[float, float, float], size: tuple[float, float, float]) -> Part:
    c, h = np.asarray(center, float), np.asarray(size, float) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    faces = np.array(
        [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    )  # fmt: skip
    return c + corners * h, faces


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def frustum(p0, p1, r0: float, r1: float, caps: tuple[bool, bool] = (True, True), seg: int = 32) -> Part:
    """A cone frustum (a cylinder when r0 == r1) from p0 to p1, optionally capped."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    u, v = _frame(p1 - p0)
    t = np.linspace(0, 2 * np.pi, seg, endpoint=False)
    ring = np.cos(t)[:, None] * u + np.sin(t)[:, None] * v
    verts = [p0 + r0 * ring, p1 + r1 * ring, p0[None], p1[None]]
    k = np.arange(seg)
    k1 = (k + 1) % seg
    faces = [np.stack([k, k1, seg + k1], 1), np.stack([k, seg + k1, seg + k], 1)]
    if caps[0]:
        faces.append(np.stack([np.full(seg, 2 * seg), k1, k], 1))
    if caps[1]:
        faces.append(np.stack([np.full(seg, 2 * seg + 1), seg + k, seg + k1], 1))
    return np.concatenate(verts), np.concatenate(faces)


def torus(center, axis, big: float, small: float, seg: int = 32, arc: float = 2 * np.pi) -> Part:
    """A torus (or a partial one, ``arc`` < 2 pi) around ``axis``."""
    u, v = _frame(np.asarray(axis, float))
    w = np.asarray(axis, float) / np.linalg.norm(axis)
    closed = arc >= 2 * np.pi - 1e-9
    n_major = seg if closed else seg + 1
    a = np.linspace(0, arc, n_major, endpoint=not closed)
    b = np.linspace(0, 2 * np.pi, seg, endpoint=False)
    A, B = np.meshgrid(a, b, indexing="ij")
    radial = np.cos(A)[..., None] * u + np.sin(A)[..., None] * v
    pts = (
        np.asarray(center, float)
        + (big + small * np.cos(B))[..., None] * radial
        + (small * np.sin(B))[..., None] * w
    )
    return pts.reshape(-1, 3), _grid_faces(n_major, seg, wrap_major=closed)


def _grid_faces(n_major: int, n_minor: int, wrap_major: bool) -> np.ndarray:
    faces = []
    for i in range(n_major if wrap_major else n_major - 1):
        i1 = (i + 1) % n_major
        for j in range(n_minor):
            j1 = (j + 1) % n_minor
            a, b, c, d = i * n_minor + j, i1 * n_minor + j, i1 * n_minor + j1, i * n_minor + j1
            faces += [(a, b, c), (a, c, d)]
    return np.asarray(faces)


def combine(parts: list[Part]) -> Mesh:
    verts, faces, offset = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + offset)
        offset += len(v)
    return Mesh(np.concatenate(verts), np.concatenate(faces))


def _legs(rng, width, depth, height, radius) -> list[Part]:
    inset = rng.uniform(0.05, 0.12)
    return [
        frustum((sx * (width / 2 - inset), 0, sz * (depth / 2 - inset)),
                (sx * (width / 2 - inset), height, sz * (depth / 2 - inset)), radius, radius)
        for sx in (-1, 1) for sz in (-1, 1)
    ]  # fmt: skip


def table(rng: np.random.Generator) -> Mesh:
    w, d, h, t = rng.uniform(1.2, 2.0), rng.uniform(0.6, 1.2), rng.uniform(0.6, 0.95), rng.uniform(0.04, 0.1)
    parts = [box((0, h - t / 2, 0), (w, t, d))]
    if rng.random() < 0.3:  # pedestal table
        r = rng.uniform(0.05, 0.12)
        parts += [
            frustum((0, 0, 0), (0, h - t, 0), r, r),
            frustum((0, 0, 0), (0, 0.04, 0), 0.4 * d, 0.35 * d),
        ]
    else:
        parts += _legs(rng, w, d, h - t, rng.uniform(0.025, 0.06))
    return combine(parts)


def chair(rng: np.random.Generator) -> Mesh:
    w, d = rng.uniform(0.5, 0.7), rng.uniform(0.5, 0.7)
    h, t, back = rng.uniform(0.4, 0.55), rng.uniform(0.04, 0.08), rng.uniform(0.4, 0.8)
    parts = [box((0, h - t / 2, 0), (w, t, d)), box((0, h + back / 2, -d / 2 + 0.03), (w, back, 0.06))]
    parts += _legs(rng, w, d, h - t, rng.uniform(0.02, 0.04))
    if rng.random() < 0.4:  # armrests
        for sx in (-1, 1):
            parts.append(box((sx * (w / 2 - 0.03), h + 0.22, 0), (0.05, 0.04, d * 0.9)))
            x = sx * (w / 2 - 0.03)
            parts.append(frustum((x, h, d * 0.35), (x, h + 0.22, d * 0.35), 0.02, 0.02))
    return combine(parts)


def lamp(rng: np.random.Generator) -> Mesh:
    base_r, pole_h = rng.uniform(0.15, 0.3), rng.uniform(0.6, 1.4)
    shade_h, shade_top, shade_bottom = rng.uniform(0.2, 0.4), rng.uniform(0.08, 0.18), rng.uniform(0.2, 0.4)
    lean = rng.uniform(-0.25, 0.25)
    top = np.array([lean, pole_h, 0.0])
    parts = [
        frustum((0, 0, 0), (0, 0.05, 0), base_r, base_r * 0.9),
        frustum((0, 0.05, 0), top, 0.02, 0.02),
        frustum(
            top - np.array([0, shade_h * 0.6, 0]),
            top + np.array([0, shade_h * 0.4, 0]),
            shade_bottom,
            shade_top,
            caps=(False, False),
        ),
    ]
    return combine(parts)


def mug(rng: np.random.Generator) -> Mesh:
    r, h = rng.uniform(0.3, 0.45), rng.uniform(0.6, 1.1)
    taper = rng.uniform(0.8, 1.15)
    handle_r = rng.uniform(0.15, 0.25) * h
    parts = [
        frustum((0, 0, 0), (0, h, 0), r, r * taper, caps=(True, False)),
        torus((r * (1 + taper) / 2, h / 2, 0), (0, 0, 1), handle_r, rng.uniform(0.025, 0.05), arc=2 * np.pi),
    ]
    return combine(parts)


def airplane(rng: np.random.Generator) -> Mesh:
    length, radius = rng.uniform(1.6, 2.4), rng.uniform(0.09, 0.16)
    span, chord, sweep = rng.uniform(1.4, 2.4), rng.uniform(0.25, 0.45), rng.uniform(0.0, 0.35)
    nose, tail = length / 2, -length / 2
    parts = [
        frustum((tail * 0.7, 0, 0), (nose * 0.7, 0, 0), radius * 0.8, radius, caps=(False, False)),
        frustum((nose * 0.7, 0, 0), (nose, 0, 0), radius, 0.01, caps=(False, False)),
        frustum((tail, radius * 0.3, 0), (tail * 0.7, 0, 0), radius * 0.3, radius * 0.8, caps=(True, False)),
    ]
    wing_v, wing_f = box((0, 0, 0), (chord, 0.03, span))
    wing_v[:, 0] -= sweep * np.abs(wing_v[:, 2])  # swept back towards the tail
    parts.append((wing_v + np.array([0.1 * length - 0.1, -radius * 0.3, 0]), wing_f))
    parts.append(box((tail + 0.12, radius * 0.3, 0), (chord * 0.6, 0.02, span * 0.35)))
    parts.append(box((tail + 0.12, radius + 0.15, 0), (chord * 0.6, 0.3, 0.02)))
    return combine(parts)


MAKERS: dict[str, Callable[[np.random.Generator], Mesh]] = {
    "table": table, "chair": chair, "lamp": lamp, "mug": mug, "airplane": airplane,
}  # fmt: skip


def make_collection(
    per_class: int = PER_CLASS, n_points: int = POINTS, seed: int = 0
) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Surface-sampled procedural shapes: points (N, P, 3), names, labels, split."""
    rng = np.random.default_rng(seed)
    points, names, labels, split = [], [], [], []
    for label in CLASSES:
        test = set(rng.choice(per_class, size=min(TEST_PER_CLASS, per_class - 1), replace=False).tolist())
        for i in range(per_class):
            mesh = MAKERS[label](rng)
            pts = sample_surface(mesh, n_points, rng)
            points.append(pts)
            names.append(f"{label}_{i:03d}")
            labels.append(label)
            split.append("test" if i in test else "train")
    array = np.round(np.stack(points) * GRID) / GRID
    return array.astype(np.float32), names, labels, split


def torus_knot(p: int = 2, q: int = 3, tube: float = 0.25, n_major: int = 256, n_minor: int = 16) -> Mesh:
    """A tube of radius ``tube`` around the (p, q) torus knot ``r = 2 + cos(q t)``."""
    t = np.linspace(0, 2 * np.pi, n_major, endpoint=False)

    def curve(s: np.ndarray) -> np.ndarray:
        r = 2 + np.cos(q * s)
        return np.stack([r * np.cos(p * s), -np.sin(q * s), r * np.sin(p * s)], 1)

    c, tangent = curve(t), curve(t + 1e-4) - curve(t - 1e-4)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.cross(tangent, np.array([0.0, 1.0, 0.0]))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    binormal = np.cross(tangent, normal)
    b = np.linspace(0, 2 * np.pi, n_minor, endpoint=False)
    ring = np.cos(b)[None, :, None] * normal[:, None] + np.sin(b)[None, :, None] * binormal[:, None]
    verts = (c[:, None] + tube * ring).reshape(-1, 3)
    return Mesh(verts, _grid_faces(n_major, n_minor, wrap_major=True))


def write_mesh_ply(path: Path, mesh: Mesh) -> None:
    """A binary little-endian PLY with float vertices and triangle faces."""
    header = (
        f"ply\nformat binary_little_endian 1.0\ncomment FlowStudio built-in sample (CC0)\n"
        f"element vertex {len(mesh.vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(mesh.faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    face_dtype = np.dtype([("n", "u1"), ("v", "<i4", (3,))])
    faces = np.empty(len(mesh.faces), dtype=face_dtype)
    faces["n"], faces["v"] = 3, mesh.faces

    def write(stream: io.BufferedWriter) -> None:
        stream.write(header)
        stream.write(np.ascontiguousarray(mesh.vertices, dtype="<f4").tobytes())
        stream.write(faces.tobytes())

    atomic_write(path, write)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    points, names, labels, split = make_collection()

    arrays = {
        "points": points,
        "split": np.asarray(split),
        "names": np.asarray(names),
        "labels": np.asarray(labels),
    }
    atomic_write(OUT / "shapes.npz", lambda stream: np.savez_compressed(stream, **arrays))
    write_mesh_ply(OUT / "torus_knot.ply", torus_knot())
    for f in sorted(OUT.iterdir()):
        print(f"{f.relative_to(OUT.parent)}: {f.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
