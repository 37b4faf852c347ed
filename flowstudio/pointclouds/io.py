"""The one registry of point-cloud readers and writers (DESIGN.md §2).

File dialogs, drag and drop, the CLI and the tests all go through these functions:

* :func:`read_shape` — one file -> points (P, 3) float32 (meshes are surface-sampled).
* :func:`read_collection` — a folder of files, an ``.npz`` with ``points`` (N, P, 3) and
  optional ``split`` ('train'/'test'), an ``.npy`` (N, P, 3), or one file -> a
  :class:`ShapeCollection` with the same number of points per shape; bad shapes are
  skipped and listed in ``skipped``, and only a collection with nothing usable fails.
* :func:`load` — either of the above, chosen from the path (what a dropped file becomes).
* :func:`write_points` — (P, 3) or (N, P, 3) to PLY / XYZ / NPY / NPZ, atomically.
* :func:`reader_for`, :func:`register_reader`, :func:`register_writer`,
  :func:`open_dialog_filters`, :func:`save_dialog_filters` (from
  :mod:`flowstudio.pointclouds.registry`, re-exported here).

Every problem with a file raises :class:`~flowstudio.errors.BadInputError` whose message
starts with the path and says what is wrong.

Formats are chosen by extension, checked against the content: a file whose first bytes
carry another format's magic (``ply``, ``\\x93NUMPY``, a zip header, ``OFF``, a VTK
header) is read as that format, and a file with an unknown extension is read when its
magic is recognized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.inputs import SkipReport, require_regular_file
from flowstudio.pointclouds import readers, writers
from flowstudio.pointclouds.mesh import Mesh, sample_surface
from flowstudio.pointclouds.registry import (
    SUPPORTED_READ_EXTENSIONS,
    SUPPORTED_WRITE_EXTENSIONS,
    Reader,
    Writer,
    open_dialog_filters,
    reader_for,
    readers_list,
    register_reader,
    register_writer,
    save_dialog_filters,
    supported_read_extensions,
    supported_write_extensions,
    unregister_reader,
    writer_for,
)

__all__ = [
    "DEFAULT_COLLECTION_POINTS",
    "DEFAULT_MESH_POINTS",
    "MIN_POINTS",
    "SUPPORTED_READ_EXTENSIONS",
    "SUPPORTED_WRITE_EXTENSIONS",
    "Reader",
    "ShapeCollection",
    "Writer",
    "is_collection",
    "load",
    "open_dialog_filters",
    "read_collection",
    "read_shape",
    "reader_for",
    "readers_list",
    "register_reader",
    "register_writer",
    "save_dialog_filters",
    "supported_read_extensions",
    "supported_write_extensions",
    "unregister_reader",
    "write_points",
    "write_shapes",
    "writer_for",
]

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


# --------------------------------------------------------------------------- reading


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


# --------------------------------------------------------------------------- writing


def write_points(
    path: str | Path,
    points: np.ndarray | Any,
    *,
    ascii: bool = False,
    split: Sequence[str] | np.ndarray | None = None,
    names: Sequence[str] | np.ndarray | None = None,
) -> Path:
    """Write (P, 3) or (N, P, 3) points to ``path``, by extension, atomically.

    PLY (binary little endian, or ASCII with ``ascii=True``) and XYZ hold one shape;
    NPY holds the array as given; NPZ holds ``points`` (N, P, 3) with optional ``split``
    and ``names``. Torch tensors are accepted. Returns the path written.
    """
    path = Path(path)
    writer = writer_for(path)
    if hasattr(points, "detach"):
        points = points.detach().cpu().numpy()
    array = np.asarray(points, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1 and not writer.collections:
        array = array[0]
    if array.ndim not in (2, 3) or array.shape[-1] != 3 or array.shape[-2] == 0:
        raise BadInputError(
            f"{path}: cannot write points of shape {array.shape}: expected (P, 3) or (N, P, 3)"
        )
    if array.ndim == 3 and not writer.collections:
        raise BadInputError(
            f"{path}: {writer.name} holds one shape, got {array.shape[0]}; "
            "save several shapes as .npz or .npy, or one file each with write_shapes()"
        )
    if not np.isfinite(array).all():
        raise BadInputError(f"{path}: refusing to write NaN or infinite coordinates")
    options: dict[str, Any] = {}
    if writer.name == "PLY":
        options["ascii"] = ascii
    if writer.name == "NPZ":
        count = 1 if array.ndim == 2 else array.shape[0]
        for key, value in (("split", split), ("names", names)):
            if value is not None and len(value) != count:
                raise BadInputError(f"{path}: {len(value)} {key} labels for {count} shapes")
        options.update(split=split, names=names)
    if not path.parent.is_dir():
        raise BadInputError(f"{path}: the folder {path.parent} does not exist")

    def write(stream: BinaryIO) -> None:
        writer.write(stream, array, **options)

    try:
        writers.atomic_write(path, write)
    except OSError as exc:  # permissions, a read-only or full disk: atomic_write left nothing behind
        raise BadInputError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path


def write_shapes(
    folder: str | Path, points: np.ndarray, ext: str = ".ply", stem: str = "shape"
) -> list[Path]:
    """Write each shape of (N, P, 3) ``points`` to ``folder/stem_000.ext`` …; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    array = np.asarray(points)
    if array.ndim == 2:
        array = array[None]
    width = max(3, len(str(len(array) - 1)))
    return [write_points(folder / f"{stem}_{i:0{width}d}{ext}", shape) for i, shape in enumerate(array)]
