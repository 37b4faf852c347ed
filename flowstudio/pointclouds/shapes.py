"""Reading point clouds: one shape, or a collection of shapes with equal point counts.

:func:`read_shape` turns one file into points (P, 3) (meshes are surface-sampled);
:func:`read_collection` reads a folder of files, an ``.npz`` with ``points`` (N, P, 3) and
an optional ``split``, an ``.npy`` (N, P, 3) or one file into a :class:`ShapeCollection`,
skipping (and listing) bad shapes; :func:`load` picks one of them from the path. The
formats are the registry's (:mod:`flowstudio.pointclouds.registry`); callers go through
:mod:`flowstudio.pointclouds.io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.inputs import SkipReport, require_regular_file
from flowstudio.pointclouds import readers
from flowstudio.pointclouds.mesh import Mesh, sample_surface
from flowstudio.pointclouds.registry import reader_for, supported_read_extensions

MIN_POINTS = 16
"""Fewer points than this in a shape is refused as "too few points"."""

DEFAULT_MESH_POINTS = 2048
"""Points sampled from a mesh surface when no ``n_points`` is asked for."""

DEFAULT_COLLECTION_POINTS = 2048
"""Points per shape of a collection (PointFlow trains and evaluates on 2048)."""


@dataclass
class ShapeCollection:
    """Shapes with equal point counts.

    Attributes:
        points: (N, P, 3) float32.
        names: one name per shape (file name relative to the folder, or ``stem[i]``).
        split: (N,) array of 'train'/'test', or ``None`` when the source has no split.
        skipped: ``(name, reason)`` of every shape that could not be used.
        source: the path it was read from.
        single: True when it was read from one single-shape file.
    """

    points: np.ndarray
    names: list[str]
    split: np.ndarray | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: Path | None = None
    single: bool = False

    def __len__(self) -> int:
        return len(self.points)

    @property
    def report(self) -> SkipReport:
        """The skipped shapes as the report every reader gives (count and first reasons)."""
        report = SkipReport()
        for name, reason in self.skipped:
            report.add(name, reason)
        return report

    def subset(self, split: str) -> ShapeCollection:
        """The shapes whose split is ``split``; all of them when there is no split."""
        if self.split is None:
            return self
        keep = self.split == split
        return ShapeCollection(
            self.points[keep],
            [n for n, k in zip(self.names, keep, strict=True) if k],
            self.split[keep],
            list(self.skipped),
            self.source,
            self.single,
        )


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder; open it as a collection")
    require_regular_file(path)  # a pipe or a device would block the reader
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file")


def _resample(points: np.ndarray, n_points: int | None, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``n_points`` rows: a random subset, or every row plus random repeats."""
    if n_points is None or len(points) == n_points:
        return points
    if len(points) > n_points:
        return points[rng.choice(len(points), size=n_points, replace=False)]
    extra = rng.choice(len(points), size=n_points - len(points), replace=True)
    return np.concatenate([points, points[extra]])


def _validated(path: Path | str, points: np.ndarray) -> np.ndarray:
    if points.ndim != 2 or points.shape[1] != 3:
        raise BadInputError(f"{path}: wrong point array shape {points.shape}: expected (P, 3)")
    if len(points) == 0:
        raise BadInputError(f"{path}: no points in the file")
    if not np.isfinite(points).all():
        raise BadInputError(f"{path}: NaN or infinite coordinates")
    if len(points) < MIN_POINTS:
        raise BadInputError(f"{path}: too few points ({len(points)}; at least {MIN_POINTS} needed)")
    points32 = points.astype(np.float32)
    if not np.isfinite(points32).all():
        raise BadInputError(f"{path}: coordinates too large for float32")
    return points32


def _read_shape(path: Path, n_points: int | None, rng: np.random.Generator) -> np.ndarray:
    _check_file(path)
    # Read at least MIN_POINTS so that "too few points" is about the file, not the request.
    max_points = None if n_points is None else max(n_points, MIN_POINTS)
    geometry = reader_for(path).read(path, max_points, rng)
    if isinstance(geometry, Mesh):
        if not np.isfinite(geometry.vertices).all():
            raise BadInputError(f"{path}: NaN or infinite coordinates")
        if len(geometry.faces) and geometry.triangle_areas().sum() > 0:
            return _validated(path, sample_surface(geometry, n_points or DEFAULT_MESH_POINTS, rng))
        geometry = geometry.vertices
    return _resample(_validated(path, np.asarray(geometry)), n_points, rng)


def read_shape(path: str | Path, n_points: int | None = None, seed: int = 0) -> np.ndarray:
    """One shape from one file, as (P, 3) float32.

    Args:
        path: a PLY / OBJ / OFF / STL / VTK / VTP / XYZ / PTS / TXT / CSV / NPY file, or
            an NPZ holding a single shape.
        n_points: the number of points to return. Meshes are surface-sampled (area
            weighted) to this many points, or :data:`DEFAULT_MESH_POINTS`; point files
            give a random subset, or all their points plus random repeats when they hold
            fewer. ``None`` keeps every point of a point file.
        seed: seeds every random choice, so a call is reproducible.
    """
    return _read_shape(Path(path), n_points, np.random.default_rng(seed))


def _names_of(arrays: dict[str, np.ndarray], stem: str, n: int) -> list[str]:
    for key in ("names", "shape_ids"):
        if key in arrays and arrays[key].shape == (n,):
            return [str(v) for v in arrays[key]]
    return [f"{stem}[{i}]" for i in range(n)]


def _checked_split(path: Path, split: np.ndarray | None, n: int) -> np.ndarray | None:
    if split is None:
        return None
    split = np.asarray(split)
    if split.shape != (n,):
        raise BadInputError(f"{path}: 'split' has shape {split.shape}, expected ({n},) like 'points'")
    split = np.char.lower(np.char.strip(split.astype(str)))
    unknown = sorted(set(split.tolist()) - {"train", "test"})
    if unknown:
        raise BadInputError(f"{path}: 'split' values must be 'train' or 'test', found {unknown[:3]}")
    return split


def _array_collection(
    path: Path,
    points: np.ndarray,
    arrays: dict[str, np.ndarray],
    n_points: int | None,
    rng: np.random.Generator,
) -> ShapeCollection:
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[-1] != 3:
        raise BadInputError(f"{path}: wrong 'points' shape {points.shape}: expected (N, P, 3)")
    if not np.issubdtype(points.dtype, np.number) or np.issubdtype(points.dtype, np.complexfloating):
        raise BadInputError(f"{path}: wrong 'points' type {points.dtype}: expected numbers")
    n, p = points.shape[:2]
    if n == 0:
        raise BadInputError(f"{path}: no shapes ('points' has shape {points.shape})")
    if p < MIN_POINTS:
        raise BadInputError(f"{path}: too few points per shape ({p}; at least {MIN_POINTS} needed)")
    names = _names_of(arrays, path.stem, n)
    split = _checked_split(path, arrays.get("split"), n)
    out = np.empty((n, n_points or p, 3), dtype=np.float32)
    good = np.ones(n, dtype=bool)
    for start in range(0, n, 256):  # bounded memory for huge arrays
        block = np.asarray(points[start : start + 256], dtype=np.float64)
        if n_points is not None and n_points != p:
            if n_points < p:
                order = np.argsort(rng.random((len(block), p)), axis=1)[:, :n_points]
            else:
                extra = rng.integers(0, p, size=(len(block), n_points - p))
                order = np.concatenate([np.broadcast_to(np.arange(p), (len(block), p)), extra], axis=1)
            block = np.take_along_axis(block, order[..., None], axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            block32 = block.astype(np.float32)
        good[start : start + len(block)] = np.isfinite(block32).all(axis=(1, 2)) & np.isfinite(
            np.asarray(points[start : start + 256])
        ).all(axis=(1, 2))
        out[start : start + len(block)] = block32
    skipped = [(names[i], "NaN or infinite coordinates") for i in np.flatnonzero(~good)]
    if not good.any():
        raise BadInputError(f"{path}: every shape has NaN or infinite coordinates")
    return ShapeCollection(
        out[good],
        [nm for nm, g in zip(names, good, strict=True) if g],
        None if split is None else split[good],
        skipped,
        path,
    )


def _folder_split(relative: Path) -> str | None:
    parts = {p.lower() for p in relative.parts[:-1]}
    for label in ("train", "test"):
        if label in parts:
            return label
    return None


def _folder_collection(folder: Path, n_points: int, seed: int) -> ShapeCollection:
    exts = set(supported_read_extensions())
    files = sorted(
        p
        for p in folder.rglob("*")
        if not p.is_dir()
        and p.suffix.lower() in exts
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise BadInputError(
            f"{folder}: no point-cloud files in the folder (looked for {' '.join(sorted(exts))})"
        )
    shapes, names, labels, skipped = [], [], [], []
    for i, file in enumerate(files):
        name = file.relative_to(folder).as_posix()
        try:
            shapes.append(_read_shape(file, n_points, np.random.default_rng((seed, i))))
        except BadInputError as exc:
            skipped.append((name, str(exc).removeprefix(f"{file}: ")))
            continue
        names.append(name)
        labels.append(_folder_split(file.relative_to(folder)))
    if not shapes:
        first = f"{skipped[0][0]}: {skipped[0][1]}"
        raise BadInputError(f"{folder}: none of the {len(files)} files could be read (e.g. {first})")
    split = np.asarray(labels, dtype=str) if all(labels) else None
    return ShapeCollection(np.stack(shapes), names, split, skipped, folder)


def is_collection(path: str | Path) -> bool:
    """Whether ``path`` holds several shapes: a folder, an ``.npz``, an ``.npy`` (N, P, 3)."""
    path = Path(path)
    if path.is_dir():
        return True
    try:
        reader = reader_for(path)
    except BadInputError:
        return False
    if reader.name == "NPZ":
        return True
    if reader.name == "NPY":
        try:
            array = readers.load_npy(path)
        except BadInputError:
            return False
        return array.ndim == 3 and array.shape[0] > 1
    return False


def read_collection(
    path: str | Path, n_points: int | None = DEFAULT_COLLECTION_POINTS, seed: int = 0
) -> ShapeCollection:
    """Shapes from a folder, an ``.npz``/``.npy`` array, or one file, with ``n_points`` each.

    A folder is read recursively; files under a ``train``/``test`` sub-folder get that
    split when every file has one. ``n_points=None`` keeps the point count of an array
    file (a folder then uses :data:`DEFAULT_COLLECTION_POINTS`). Unreadable files or
    shapes with NaN/Inf are skipped and reported in ``skipped``.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    if path.is_dir():
        return _folder_collection(path, n_points or DEFAULT_COLLECTION_POINTS, seed)
    _check_file(path)
    reader = reader_for(path)
    if reader.name == "NPZ":
        arrays = readers.load_npz(path)
        return _array_collection(path, arrays["points"], arrays, n_points, rng)
    if reader.name == "NPY":
        array = readers.load_npy(path)
        if array.ndim == 3:
            return _array_collection(path, array, {}, n_points, rng)
    points = _read_shape(path, n_points, rng)
    return ShapeCollection(points[None], [path.name], None, [], path, single=True)


def load(path: str | Path, n_points: int | None = None, seed: int = 0) -> ShapeCollection:
    """What opening or dropping ``path`` gives: a collection, or one shape (``single``).

    ``n_points`` defaults to :data:`DEFAULT_COLLECTION_POINTS` for collections and to
    every point of a single point file (a mesh gets :data:`DEFAULT_MESH_POINTS`).
    """
    if is_collection(path):
        return read_collection(path, n_points or DEFAULT_COLLECTION_POINTS, seed)
    points = read_shape(path, n_points, seed)
    return ShapeCollection(points[None], [Path(path).name], None, [], Path(path), single=True)
