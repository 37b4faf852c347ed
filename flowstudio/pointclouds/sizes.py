"""Declared sizes checked against what a file holds, before a reader allocates for them.

Array and mesh formats state their counts up front, and the libraries that read them
allocate what the header says: a 1 KB ``.npz`` member claiming 10^10 points asked NumPy
for 112 GiB, and a 100-byte binary VTK file claiming 2·10^9 points made VTK take 22 GB
before the kernel killed it. These checks read only headers and compare each declared
block with the bytes the file has, so a lying or truncated file is refused in
milliseconds with its reason.
"""

from __future__ import annotations

import mmap
import re
import zipfile
from pathlib import Path

import numpy as np

from flowstudio.errors import BadInputError

DEFLATE_MAX_RATIO = 1032
"""The most a zlib stream can expand (1032:1): compressed VTK XML data can legitimately
be that much smaller than what it declares, and no more."""

_VTK_TYPES = {b"bit": 1, b"char": 1, b"unsigned_char": 1, b"short": 2, b"unsigned_short": 2, b"int": 4,
              b"unsigned_int": 4, b"long": 8, b"unsigned_long": 8, b"float": 4, b"double": 8,
              b"vtktypeint64": 8, b"vtkidtype": 8}  # fmt: skip
_LEGACY_POINTS = re.compile(rb"^POINTS[ \t]+(\d+)[ \t]+(\w+)", re.MULTILINE)
_LEGACY_CELLS = re.compile(
    rb"^(POLYGONS|CELLS|VERTICES|LINES|TRIANGLE_STRIPS)[ \t]+(\d+)[ \t]+(\d+)", re.MULTILINE
)
_XML_COUNTS = re.compile(rb'Number(?:OfPoints|OfCells|OfPolys|OfVerts|OfLines|OfStrips)="(\d+)"')


def _fail(path: Path, problem: str) -> BadInputError:
    return BadInputError(f"{path}: {problem}")


def check_npz_sizes(path: Path) -> None:
    """Refuse an ``.npz`` member whose header declares more bytes than the member holds."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
                held = info.file_size - member.tell()
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if not dtype.hasobject and declared > held:
                name = info.filename.removesuffix(".npy")
                raise _fail(path, f"'{name}' declares shape {shape} ({declared:,} bytes) but holds {held:,} "
                            "bytes: truncated, or a lying header")


def check_vtk_sizes(path: Path) -> None:
    """Refuse a VTK file (legacy or XML) whose point or cell counts need more bytes than
    the file has: exactly for legacy binary files, at two bytes a value for legacy ASCII
    (a digit and a separator), within :data:`DEFLATE_MAX_RATIO` for XML files."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        legacy = data[:256].startswith(b"# vtk DataFile")
        if legacy:
            binary = b"BINARY" in data[:1024].upper()
            for match in _LEGACY_POINTS.finditer(data):
                count, kind = int(match.group(1)), match.group(2).lower()
                per_value = _VTK_TYPES.get(kind, 4) if binary else 2
                _check_block(path, f"{count:,} points", 3 * count * per_value, size)
            for match in _LEGACY_CELLS.finditer(data):
                values = int(match.group(3))
                what = f"{match.group(1).decode()} of {values:,} values"
                _check_block(path, what, values * (4 if binary else 2), size)
        else:
            for match in _XML_COUNTS.finditer(data[: 1 << 20]):
                count = int(match.group(1))
                _check_block(path, f"{count:,} points or cells", count, size * DEFLATE_MAX_RATIO // 3)


def _check_block(path: Path, what: str, needed: int, available: int) -> None:
    if needed > available:
        raise _fail(path, f"declares {what}, more than the file's {available:,} bytes can hold: truncated, "
                    "or a lying header")
