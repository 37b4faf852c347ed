"""Writing point clouds: one shape or several, by extension, atomically.

:func:`write_points` writes (P, 3) or (N, P, 3) points to PLY / XYZ / NPY / NPZ;
:func:`write_shapes` writes one file per shape; :func:`write_clouds` is what a sampler's
output becomes (the CLI's ``sample`` and ``arithmetic``, the window's Export): one file when
the format holds every cloud, else one file per cloud. Callers go through
:mod:`flowstudio.pointclouds.io`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import writers
from flowstudio.pointclouds.registry import writer_for


def write_points(
    path: str | Path,
    points: np.ndarray | Any,
    *,
    ascii: bool = False,
    split: Sequence[str] | np.ndarray | None = None,
    names: Sequence[str] | np.ndarray | None = None,
    comments: Sequence[str] = (),
) -> Path:
    """Write (P, 3) or (N, P, 3) points to ``path``, by extension, atomically; PLY files
    carry ``comments`` as header comments (other formats have no place for them).

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
        options.update(ascii=ascii, comments=comments)
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
    folder: str | Path,
    points: np.ndarray,
    ext: str = ".ply",
    stem: str = "shape",
    comments: Sequence[str] = (),
) -> list[Path]:
    """Write each shape of (N, P, 3) ``points`` to ``folder/stem_000.ext`` …; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    array = np.asarray(points)
    if array.ndim == 2:
        array = array[None]
    width = max(3, len(str(len(array) - 1)))
    return [
        write_points(folder / f"{stem}_{i:0{width}d}{ext}", shape, comments=comments)
        for i, shape in enumerate(array)
    ]



def write_clouds(path: str | Path, clouds: np.ndarray, comments: Sequence[str] = ()) -> list[Path]:
    """Write sampled clouds (K, P, 3) to ``path``: one file when its format holds a
    collection (or K = 1), else one file per cloud beside it (``stem_000.ext`` …).
    Returns the paths written."""
    path = Path(path)
    array = np.asarray(clouds)
    if len(array) > 1 and not writer_for(path).collections:
        return write_shapes(path.parent, array, ext=path.suffix, stem=path.stem, comments=comments)
    return [write_points(path, array if len(array) > 1 else array[0], comments=comments)]
