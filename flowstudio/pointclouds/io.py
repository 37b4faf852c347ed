"""The one registry of point-cloud readers and writers (DESIGN.md §2).

File dialogs, drag and drop, the CLI and the tests all go through these functions:

* :func:`read_shape` — one file -> points (P, 3) float32 (meshes are surface-sampled).
* :func:`read_collection` — a folder of files, an ``.npz`` with ``points`` (N, P, 3) and
  optional ``split`` ('train'/'test'), an ``.npy`` (N, P, 3), or one file -> a
  :class:`ShapeCollection` with the same number of points per shape; bad shapes are
  skipped and listed in ``skipped``, and only a collection with nothing usable fails.
* :func:`load` — either of the above, chosen from the path (what a dropped file becomes).
* :func:`write_points` — (P, 3) or (N, P, 3) to PLY / XYZ / NPY / NPZ, atomically;
  :func:`write_shapes` one file per shape; :func:`write_clouds` a sampler's clouds, in one
  file or one per cloud as the format allows.
* :func:`reader_for`, :func:`register_reader`, :func:`register_writer`,
  :func:`open_dialog_filters`, :func:`save_dialog_filters` (from
  :mod:`flowstudio.pointclouds.registry`, re-exported here).

Reading lives in :mod:`.shapes`, writing in :mod:`.export`, the formats in
:mod:`.registry`, :mod:`.readers` and :mod:`.writers`; this module is their one front.

Every problem with a file raises :class:`~flowstudio.errors.BadInputError` whose message
starts with the path and says what is wrong.

Formats are chosen by extension, checked against the content: a file whose first bytes
carry another format's magic (``ply``, ``\\x93NUMPY``, a zip header, ``OFF``, a VTK
header) is read as that format, and a file with an unknown extension is read when its
magic is recognized.
"""

from __future__ import annotations

from flowstudio.pointclouds.export import write_clouds, write_points, write_shapes
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
from flowstudio.pointclouds.shapes import (
    DEFAULT_COLLECTION_POINTS,
    DEFAULT_MESH_POINTS,
    MIN_POINTS,
    ShapeCollection,
    is_collection,
    load,
    read_collection,
    read_shape,
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
    "write_clouds",
    "write_points",
    "write_shapes",
    "writer_for",
]
