"""PLY reader (Turk 1994): ASCII and binary of either byte order, vertices and faces.

Binary vertex tables are memory-mapped, so a large point-only PLY is subsampled without
being loaded; faces take a vectorized path when every polygon has the same size.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.mesh import Mesh, triangulate
from flowstudio.pointclouds.readers import Geometry, _checked_faces, _random_subset, fail

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_PLY_FORMATS = {"ascii": None, "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass
class _PlyProperty:
    name: str
    dtype: str  # numpy type code without byte order
    count_dtype: str | None = None  # set for list properties


@dataclass
class _PlyElement:
    name: str
    count: int
    properties: list[_PlyProperty]

    @property
    def has_lists(self) -> bool:
        return any(p.count_dtype for p in self.properties)


def _ply_header(path: Path, f: io.BufferedReader) -> tuple[str | None, list[_PlyElement]]:
    """Parse the header; returns the byte order (None for ASCII) and the elements."""
    magic = f.readline(16).strip()
    if magic != b"ply":
        raise fail(path, "not a PLY file (it does not start with 'ply')")
    order: str | None = None
    fmt_seen = False
    elements: list[_PlyElement] = []
    for _ in range(10_000):
        raw = f.readline(4096)
        if not raw:
            raise fail(path, "truncated PLY header (no 'end_header')")
        try:
            words = raw.decode("ascii").split()
        except UnicodeDecodeError:
            raise fail(path, "corrupt PLY header (binary data before 'end_header')") from None
        if not words or words[0] in ("comment", "obj_info"):
            continue
        key = words[0]
        if key == "end_header":
            if not fmt_seen:
                raise fail(path, "PLY header has no 'format' line")
            return order, elements
        try:
            if key == "format":
                if words[1] not in _PLY_FORMATS:
                    raise fail(path, f"unknown PLY format {words[1]!r}")
                order, fmt_seen = _PLY_FORMATS[words[1]], True
            elif key == "element":
                count = int(words[2])
                if count < 0:
                    raise fail(path, f"PLY element {words[1]!r} has a negative count ({count})")
                elements.append(_PlyElement(words[1], count, []))
            elif key == "property":
                if not elements:
                    raise fail(path, "PLY property before any element")
                if words[1] == "list":
                    prop = _PlyProperty(words[4], _PLY_TYPES[words[3]], _PLY_TYPES[words[2]])
                else:
                    prop = _PlyProperty(words[2], _PLY_TYPES[words[1]])
                elements[-1].properties.append(prop)
            else:
                raise fail(path, f"unexpected PLY header line {raw.decode('ascii').strip()!r}")
        except (IndexError, KeyError, ValueError) as exc:
            if isinstance(exc, BadInputError):
                raise
            raise fail(path, f"malformed PLY header line {raw.decode('ascii').strip()!r}") from None
    raise fail(path, "PLY header too long (no 'end_header')")


def _ply_vertex_columns(path: Path, element: _PlyElement) -> list[str]:
    names = [p.name for p in element.properties]
    if not all(c in names for c in "xyz"):
        raise fail(path, "the PLY vertex element has no x, y, z properties")
    if element.has_lists:
        raise fail(path, "unsupported PLY file: list properties in the vertex element")
    return ["x", "y", "z"]


def _ply_face_property(element: _PlyElement) -> str | None:
    for p in element.properties:
        if p.count_dtype and p.name in ("vertex_indices", "vertex_index"):
            return p.name
    return None


def read_ply(path: Path, max_points: int | None, rng: np.random.Generator) -> Geometry:
    """PLY, ASCII or binary of either byte order; vertices and (polygon) faces."""
    with open(path, "rb") as f:
        order, elements = _ply_header(path, f)
        body_start = f.tell()
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise fail(path, "the PLY file has no vertex element")
    vertex = elements[names.index("vertex")]
    _ply_vertex_columns(path, vertex)
    face = elements[names.index("face")] if "face" in names else None
    wants_faces = face is not None and face.count > 0 and _ply_face_property(face) is not None
    if wants_faces and names.index("face") < names.index("vertex"):
        raise fail(path, "unsupported PLY file: its face element comes before the vertex element it indexes")
    if order is None:
        return _read_ply_ascii(path, body_start, elements, wants_faces)
    return _read_ply_binary(path, body_start, order, elements, wants_faces, max_points, rng)


def _scalar_dtype(element: _PlyElement, order: str) -> np.dtype:
    return np.dtype([(p.name, order + p.dtype) for p in element.properties])


def _read_ply_binary(
    path: Path,
    offset: int,
    order: str,
    elements: list[_PlyElement],
    wants_faces: bool,
    max_points: int | None,
    rng: np.random.Generator,
) -> Geometry:
    size = path.stat().st_size
    vertices: np.ndarray | None = None
    for element in elements:
        if element.name == "vertex":
            dtype = _scalar_dtype(element, order)
            end = offset + element.count * dtype.itemsize
            if end > size:
                raise fail(
                    path,
                    f"truncated PLY file: {element.count} vertices declared, "
                    f"data ends after {max(0, (size - offset) // dtype.itemsize)}",
                )
            table = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(element.count,))
            if not wants_faces and max_points is not None and element.count > max_points:
                table = table[_random_subset(element.count, max_points, rng)]
            vertices = np.stack([np.asarray(table[c], dtype=np.float64) for c in "xyz"], axis=1)
            del table
            offset = end
            if not wants_faces:
                return vertices
        elif element.name == "face" and wants_faces:
            polygons = _ply_binary_faces(path, offset, order, element)
            assert vertices is not None
            return Mesh(vertices, _checked_faces(path, polygons, len(vertices)))
        else:
            offset = _skip_binary_element(path, offset, order, element, size)
    raise fail(path, "the PLY file has no vertex data")


def _skip_binary_element(path: Path, offset: int, order: str, element: _PlyElement, size: int) -> int:
    if not element.has_lists:
        end = offset + element.count * _scalar_dtype(element, order).itemsize
    else:
        end = offset
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        pos = 0
        for _ in range(element.count):
            for p in element.properties:
                pos = _skip_binary_value(path, data, pos, order, p)
        end += pos
    if end > size:
        raise fail(path, f"truncated PLY file (in element {element.name!r})")
    return end


def _skip_binary_value(path: Path, data: bytes, pos: int, order: str, p: _PlyProperty) -> int:
    item = np.dtype(p.dtype).itemsize
    if p.count_dtype is None:
        return pos + item
    fmt = order + np.dtype(p.count_dtype).char
    try:
        (n,) = struct.unpack_from(fmt, data, pos)
    except struct.error:
        raise fail(path, "truncated PLY file (in a list property)") from None
    return pos + struct.calcsize(fmt) + n * item


def _ply_binary_faces(path: Path, offset: int, order: str, element: _PlyElement) -> np.ndarray | list:
    """Face index lists; fast path when every face has the same number of vertices."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    prop_name = _ply_face_property(element)
    # Fast path: assume every list has the length of the first face's lists.
    pos, fields = 0, []
    for p in element.properties:
        if p.count_dtype is None:
            fields.append((p.name, order + p.dtype))
            pos += np.dtype(p.dtype).itemsize
            continue
        fmt = order + np.dtype(p.count_dtype).char
        if len(data) < pos + struct.calcsize(fmt):
            raise fail(path, "truncated PLY file (no face data)")
        (n,) = struct.unpack_from(fmt, data, pos)
        fields.append((p.name + "#n", order + p.count_dtype))
        fields.append((p.name, order + p.dtype, (n,)))
        pos += struct.calcsize(fmt) + n * np.dtype(p.dtype).itemsize
    dtype = np.dtype(fields)
    if len(data) >= element.count * dtype.itemsize:
        table = np.frombuffer(data, dtype=dtype, count=element.count)
        lists_ok = all(
            (table[p.name + "#n"] == table.dtype[p.name].shape[0]).all()
            for p in element.properties
            if p.count_dtype
        )
        if lists_ok:
            idx = np.asarray(table[prop_name], dtype=np.int64)
            return idx if idx.shape[1] == 3 else triangulate(idx.tolist())
    # Slow path: mixed polygon sizes.
    polygons: list[list[int]] = []
    pos = 0
    try:
        for _ in range(element.count):
            for p in element.properties:
                if p.count_dtype is None:
                    pos += np.dtype(p.dtype).itemsize
                    continue
                cfmt = order + np.dtype(p.count_dtype).char
                (n,) = struct.unpack_from(cfmt, data, pos)
                pos += struct.calcsize(cfmt)
                ifmt = f"{order}{n}{np.dtype(p.dtype).char}"
                values = struct.unpack_from(ifmt, data, pos)
                pos += struct.calcsize(ifmt)
                if p.name == prop_name:
                    polygons.append(list(values))
    except struct.error:
        raise fail(
            path, f"truncated PLY file: {element.count} faces declared, data ends after {len(polygons)}"
        ) from None
    return triangulate(polygons)


def _read_ply_ascii(path: Path, offset: int, elements: list[_PlyElement], wants_faces: bool) -> Geometry:
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read()
    try:
        lines = [ln for ln in raw.decode("ascii").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise fail(path, "corrupt ASCII PLY body (binary data)") from None
    pos = 0
    vertices: np.ndarray | None = None
    for element in elements:
        block = lines[pos : pos + element.count]
        if len(block) < element.count:
            raise fail(
                path, f"truncated PLY file: {element.count} {element.name} lines declared, found {len(block)}"
            )
        pos += element.count
        if element.name == "vertex":
            cols = [p.name for p in element.properties]
            try:
                table = np.loadtxt(block, ndmin=2, dtype=np.float64, usecols=range(len(cols)))
            except ValueError as exc:
                raise fail(path, f"malformed PLY vertex data ({exc})") from None
            vertices = table[:, [cols.index(c) for c in "xyz"]]
            if not wants_faces:
                return vertices
        elif element.name == "face" and wants_faces:
            assert vertices is not None
            polygons = _ply_ascii_faces(path, block, element)
            return Mesh(vertices, _checked_faces(path, polygons, len(vertices)))
    raise fail(path, "the PLY file has no vertex data")


def _ply_ascii_faces(path: Path, block: list[str], element: _PlyElement) -> np.ndarray:
    target = _ply_face_property(element)
    polygons: list[list[int]] = []
    for line_no, line in enumerate(block, 1):
        words = line.split()
        pos = 0
        try:
            for p in element.properties:
                if p.count_dtype is None:
                    pos += 1
                    continue
                n = int(words[pos])
                values = [int(w) for w in words[pos + 1 : pos + 1 + n]]
                if len(values) != n:
                    raise ValueError
                pos += 1 + n
                if p.name == target:
                    polygons.append(values)
        except (ValueError, IndexError):
            raise fail(path, f"malformed PLY face line {line_no}: {line.strip()[:60]!r}") from None
    return triangulate(polygons)
