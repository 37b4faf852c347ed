"""The registry of point-cloud file formats: readers and writers by extension and magic.

:mod:`flowstudio.pointclouds.io` re-exports everything here; file dialogs take their
filters from :func:`open_dialog_filters` / :func:`save_dialog_filters`, and a new format
is one :func:`register_reader` call away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import readers, writers
from flowstudio.pointclouds.mesh import Mesh
from flowstudio.pointclouds.ply import read_ply

ReadFunction = Callable[[Path, "int | None", np.random.Generator], "Mesh | np.ndarray"]


@dataclass(frozen=True)
class Reader:
    """A file format that can be read.

    ``read(path, max_points, rng)`` returns a :class:`Mesh` or points (P, 3) and may
    return a random subset of ``max_points`` points of a larger point file. ``sniff``
    recognizes the format from the file's first 512 bytes (magic numbers only).
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    read: ReadFunction
    sniff: Callable[[bytes], bool] | None = None

    @property
    def dialog_filter(self) -> str:
        return f"{self.description} ({' '.join('*' + e for e in self.extensions)})"


@dataclass(frozen=True)
class Writer:
    """A file format that can be written: ``write(stream, points, **options)``.

    ``collections`` says whether the format holds several shapes (N, P, 3).
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    write: Callable[..., None]
    collections: bool = False

    @property
    def dialog_filter(self) -> str:
        return f"{self.description} ({' '.join('*' + e for e in self.extensions)})"


_READERS: list[Reader] = []
_WRITERS: list[Writer] = []


def register_reader(reader: Reader) -> None:
    """Add a reader; a later registration wins for a shared extension."""
    _READERS.insert(0, reader)


def register_writer(writer: Writer) -> None:
    """Add a writer; a later registration wins for a shared extension."""
    _WRITERS.insert(0, writer)


def unregister_reader(name: str) -> None:
    """Remove every reader called ``name`` (e.g. one a plug-in or a test registered)."""
    _READERS[:] = [r for r in _READERS if r.name != name]


def readers_list() -> list[Reader]:
    """The registered readers, most recent first."""
    return list(_READERS)


def supported_read_extensions() -> tuple[str, ...]:
    return tuple(sorted({e for r in _READERS for e in r.extensions}))


def supported_write_extensions() -> tuple[str, ...]:
    return tuple(sorted({e for w in _WRITERS for e in w.extensions}))


def _extension(path: Path) -> str:
    return path.suffix.lower()


def reader_for(path: str | Path) -> Reader:
    """The reader for ``path``: by its content's magic when recognized, else by extension."""
    path = Path(path)
    by_ext = next((r for r in _READERS if _extension(path) in r.extensions), None)
    head = b""
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(512)
    if by_ext is not None and by_ext.sniff is not None and by_ext.sniff(head):
        return by_ext
    by_magic = next((r for r in _READERS if r.sniff is not None and r.sniff(head)), None)
    if by_magic is not None:
        return by_magic
    if by_ext is not None:
        return by_ext
    raise BadInputError(
        f"{path}: unknown file type {_extension(path) or '(no extension)'!r}; "
        f"supported: {' '.join(supported_read_extensions())}"
    )


def writer_for(path: str | Path) -> Writer:
    path = Path(path)
    writer = next((w for w in _WRITERS if _extension(path) in w.extensions), None)
    if writer is None:
        raise BadInputError(
            f"{path}: cannot write {_extension(path) or 'files without an extension'!r}; "
            f"supported: {' '.join(supported_write_extensions())}"
        )
    return writer


def open_dialog_filters() -> list[str]:
    """Qt file-dialog filters for opening: all supported first, one per format, all files."""
    pattern = " ".join("*" + e for e in supported_read_extensions())
    return [f"Point clouds and meshes ({pattern})", *[r.dialog_filter for r in _READERS], "All files (*)"]


def save_dialog_filters() -> list[str]:
    """Qt file-dialog filters for saving, one per writable format."""
    return [w.dialog_filter for w in _WRITERS]


# --------------------------------------------------------------------------- built-in formats


def _is_off(head: bytes) -> bool:
    first = head.lstrip().split(b"\n", 1)[0].upper()
    return re.match(rb"[A-Z]{0,4}OFF(?:\s|\d|$)", first) is not None


def _is_vtk(head: bytes) -> bool:
    return head.startswith(b"# vtk DataFile") or (head.lstrip().startswith(b"<") and b"<VTKFile" in head)


for _reader in (
    Reader("PLY", "PLY mesh or points", (".ply",), read_ply, lambda h: h.startswith(b"ply")),
    Reader("OBJ", "Wavefront OBJ mesh", (".obj",), readers.read_obj),
    Reader("OFF", "OFF mesh", (".off",), readers.read_off, _is_off),
    Reader("STL", "STL mesh", (".stl",), readers.read_stl),
    Reader("VTK", "VTK mesh or points", (".vtk", ".vtp", ".vtu"), readers.read_vtk, _is_vtk),
    Reader("XYZ", "Text points x y z", (".xyz", ".pts", ".txt", ".csv"), readers.read_text_points),
    Reader(
        "NPY",
        "NumPy array (P,3) or (N,P,3)",
        (".npy",),
        readers.read_npy,
        lambda h: h.startswith(b"\x93NUMPY"),
    ),
    Reader(
        "NPZ",
        "NumPy archive with 'points' (N,P,3)",
        (".npz",),
        readers.read_npz,
        lambda h: h.startswith(b"PK\x03\x04"),
    ),
)[::-1]:
    register_reader(_reader)

for _writer in (
    Writer("PLY", "PLY points", (".ply",), writers.write_ply),
    Writer("XYZ", "Text points x y z", (".xyz",), writers.write_xyz),
    Writer("NPY", "NumPy array", (".npy",), writers.write_npy, collections=True),
    Writer("NPZ", "NumPy archive (points, split)", (".npz",), writers.write_npz, collections=True),
)[::-1]:
    register_writer(_writer)

SUPPORTED_READ_EXTENSIONS: tuple[str, ...] = supported_read_extensions()
"""The extensions of the built-in readers (see :func:`supported_read_extensions`)."""

SUPPORTED_WRITE_EXTENSIONS: tuple[str, ...] = supported_write_extensions()
