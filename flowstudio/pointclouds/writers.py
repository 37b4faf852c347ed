"""Writers of point clouds: PLY (binary or ASCII), XYZ, NPY and NPZ, all atomic.

Every writer has the signature ``write(stream, points, **options)`` and writes to an open
binary stream; :func:`atomic_write` wraps it so that the file appears complete or not at
all (:func:`flowstudio.files.atomic_write`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from flowstudio import files


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(stream)`` on a temporary file next to ``path``, then rename it
    (:func:`flowstudio.files.atomic_write`).

    A failure (an exception in ``write``, a full disk) removes the temporary file and
    leaves any previous ``path`` untouched.
    """
    with files.atomic_write(path) as stream:
        write(stream)


def write_ply(
    stream: BinaryIO, points: np.ndarray, *, ascii: bool = False, comments: Sequence[str] = ()
) -> None:
    """PLY with float32 ``x y z`` vertices; binary little endian unless ``ascii``;
    ``comments`` become ``comment`` header lines (e.g. where the points came from)."""
    fmt = "ascii" if ascii else "binary_little_endian"
    extra = "".join(f"comment {' '.join(str(c).split())}\n" for c in comments)
    header = (
        f"ply\nformat {fmt} 1.0\ncomment written by FlowStudio\n{extra}"
        f"element vertex {len(points)}\nproperty float x\nproperty float y\nproperty float z\n"
        "end_header\n"
    )
    stream.write(header.encode("ascii"))
    if ascii:
        _write_rows(stream, points)
    else:
        stream.write(np.ascontiguousarray(points, dtype="<f4").tobytes())


def write_xyz(stream: BinaryIO, points: np.ndarray) -> None:
    """Plain text, one ``x y z`` line per point."""
    _write_rows(stream, points)


def _write_rows(stream: BinaryIO, points: np.ndarray) -> None:
    # float32 needs 9 significant digits to round-trip exactly.
    for start in range(0, len(points), 100_000):
        block = np.asarray(points[start : start + 100_000], dtype=np.float32)
        lines = "\n".join(" ".join(f"{v:.9g}" for v in row) for row in block.tolist())
        stream.write((lines + "\n").encode("ascii"))


def write_npy(stream: BinaryIO, points: np.ndarray) -> None:
    """``.npy`` holding the array as given: (P, 3) or (N, P, 3) float32."""
    np.save(stream, np.asarray(points, dtype=np.float32), allow_pickle=False)


def write_npz(
    stream: BinaryIO,
    points: np.ndarray,
    *,
    split: np.ndarray | list[str] | None = None,
    names: np.ndarray | list[str] | None = None,
) -> None:
    """Compressed ``.npz`` with ``points`` (N, P, 3) float32 and optional ``split``/``names``."""
    arrays: dict[str, np.ndarray] = {"points": np.asarray(points, dtype=np.float32)}
    if arrays["points"].ndim == 2:
        arrays["points"] = arrays["points"][None]
    if split is not None:
        arrays["split"] = np.asarray(split, dtype=str)
    if names is not None:
        arrays["names"] = np.asarray(names, dtype=str)
    np.savez_compressed(stream, **arrays)
