"""Parsers of the point-cloud and mesh file formats, one function per format.

Every reader has the signature ``read(path, max_points, rng) -> Mesh | np.ndarray``: a
triangle mesh, or the points (P, 3). When ``max_points`` is given and a point file holds
more points, the reader may return a uniform random subset of ``max_points`` of them
without loading the whole file (NPY through a memory map, text through a streaming
reservoir sample; binary PLY in :mod:`flowstudio.pointclouds.ply`). Problems raise
:class:`~flowstudio.errors.BadInputError` with a message that names the file;
:mod:`flowstudio.pointclouds.registry` registers these readers and
:mod:`flowstudio.pointclouds.io` validates what they return.
"""

from __future__ import annotations

import re
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.mesh import Mesh, triangulate
from flowstudio.pointclouds.sizes import check_npz_sizes, check_vtk_sizes

Geometry = Mesh | np.ndarray


def fail(path: Path, problem: str) -> BadInputError:
    """The error for an unusable file: ``"<path>: <problem>"``."""
    return BadInputError(f"{path}: {problem}")


def _random_subset(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct sorted indices out of ``n`` (sorted keeps memory-map reads in order)."""
    return np.sort(rng.choice(n, size=k, replace=False))


def _checked_faces(path: Path, faces: np.ndarray | list, n_vertices: int) -> np.ndarray:
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        bad = int(faces.max() if faces.max() >= n_vertices else faces.min())
        raise fail(path, f"a face refers to vertex {bad} but there are {n_vertices} vertices")
    return faces


# --------------------------------------------------------------------------- OBJ / OFF


def _text_lines(path: Path, what: str) -> list[str]:
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise fail(path, f"binary data, not a text {what} file")
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        try:
            return raw.decode("latin-1").splitlines()
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
            raise fail(path, f"binary data, not a text {what} file") from None


def read_obj(path: Path, max_points: int | None, rng: np.random.Generator) -> Geometry:
    """Wavefront OBJ: ``v`` vertices and ``f`` polygons (1-based or negative indices)."""
    vertices: list[list[float]] = []
    polygons: list[list[int]] = []
    for line_no, line in enumerate(_text_lines(path, "OBJ"), 1):
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "v":
                vertices.append([float(w) for w in words[1:4]])
                if len(vertices[-1]) != 3:
                    raise ValueError
            elif words[0] == "f":
                n = len(vertices)
                idx = [int(w.split("/")[0]) for w in words[1:]]
                polygons.append([i - 1 if i > 0 else n + i for i in idx])
        except (ValueError, IndexError):
            raise fail(path, f"malformed OBJ line {line_no}: {line.strip()[:60]!r}") from None
    points = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = triangulate(polygons)
    if len(faces):
        return Mesh(points, _checked_faces(path, faces, len(points)))
    return points


def read_off(path: Path, max_points: int | None, rng: np.random.Generator) -> Geometry:
    """OFF (also COFF/NOFF, and ModelNet's ``OFF<nv> <nf> <ne>`` on one line)."""
    lines = [ln.split("#")[0].strip() for ln in _text_lines(path, "OFF")]
    lines = [ln for ln in lines if ln]
    if not lines or "OFF" not in lines[0][:6].upper():
        raise fail(path, "not an OFF file (it does not start with 'OFF')")
    head = lines[0][lines[0].upper().index("OFF") + 3 :].split()
    rest = lines[1:]
    if not head:
        if not rest:
            raise fail(path, "truncated OFF file (no counts)")
        head, rest = rest[0].split(), rest[1:]
    try:
        nv, nf = int(head[0]), int(head[1])
    except (ValueError, IndexError):
        raise fail(path, "malformed OFF counts line") from None
    if nv < 0 or nf < 0:
        raise fail(path, f"malformed OFF counts line: negative counts ({nv} vertices, {nf} faces)")
    if len(rest) < nv + nf:
        raise fail(
            path, f"truncated OFF file: {nv} vertices and {nf} faces declared, found {len(rest)} data lines"
        )
    try:
        points = (
            np.loadtxt(rest[:nv], ndmin=2, usecols=(0, 1, 2), dtype=np.float64) if nv else (np.zeros((0, 3)))
        )
        polygons = []
        for line in rest[nv : nv + nf]:
            words = line.split()
            n = int(words[0])
            polygons.append([int(w) for w in words[1 : 1 + n]])
    except (ValueError, IndexError) as exc:
        raise fail(path, f"malformed OFF data ({exc})") from None
    faces = triangulate(polygons)
    if len(faces):
        return Mesh(points, _checked_faces(path, faces, len(points)))
    return points


# --------------------------------------------------------------------------- STL

_STL_DTYPE = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


def read_stl(path: Path, max_points: int | None, rng: np.random.Generator) -> Geometry:
    """STL, binary (size 84 + 50 n) or ASCII (``solid … facet … vertex x y z``)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(84)
    if len(head) >= 84:
        (n,) = struct.unpack_from("<I", head, 80)
        if size == 84 + 50 * n:
            table = np.fromfile(path, dtype=_STL_DTYPE, count=n, offset=84)
            vertices = table["v"].reshape(-1, 3).astype(np.float64)
            return Mesh(vertices, np.arange(len(vertices), dtype=np.int64).reshape(-1, 3))
    if head.lstrip().startswith(b"solid"):
        lines = _text_lines(path, "STL")
        coords = []
        for line_no, line in enumerate(lines, 1):
            words = line.split()
            if words and words[0] == "vertex":
                try:
                    coords.append([float(w) for w in words[1:4]])
                except ValueError:
                    raise fail(path, f"malformed STL line {line_no}: {line.strip()[:60]!r}") from None
        if not coords or len(coords) % 3:
            raise fail(path, "truncated or malformed ASCII STL (vertex count is not a multiple of 3)")
        vertices = np.asarray(coords, dtype=np.float64)
        return Mesh(vertices, np.arange(len(vertices), dtype=np.int64).reshape(-1, 3))
    if len(head) < 84:
        raise fail(path, "truncated STL file (shorter than the 84-byte binary header)")
    (n,) = struct.unpack_from("<I", head, 80)
    raise fail(
        path,
        f"not a valid binary STL: {n} triangles declared needs {84 + 50 * n} bytes, "
        f"the file has {size} (truncated or not an STL)",
    )


# --------------------------------------------------------------------------- VTK


def read_vtk(path: Path, max_points: int | None, rng: np.random.Generator) -> Geometry:
    """VTK legacy and XML formats through pyvista (imported only here)."""
    try:
        import pyvista as pv
    except ImportError as exc:  # pragma: no cover - pyvista is a dependency
        raise fail(path, f"reading VTK files needs pyvista ({exc})") from None
    check_vtk_sizes(path)  # VTK allocates whatever the header declares
    try:
        data = _read_vtk_quietly(pv, path)
        if isinstance(data, pv.MultiBlock):
            data = data.combine()
        if not isinstance(data, pv.PolyData):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = data.extract_surface()
        surface = data.triangulate()
    except Exception as exc:  # VTK raises assorted types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise fail(path, f"cannot read the VTK file: {reason}") from None
    points = np.asarray(surface.points, dtype=np.float64).reshape(-1, 3)
    if surface.n_cells and getattr(surface, "is_all_triangles", False):
        faces = np.asarray(surface.faces).reshape(-1, 4)[:, 1:]
        if len(faces):
            return Mesh(points, _checked_faces(path, faces, len(points)))
    if not len(points):
        points = np.asarray(data.points, dtype=np.float64).reshape(-1, 3)
    return points


def _read_vtk_quietly(pv: Any, path: Path) -> Any:
    """Run the VTK reader with VTK's own logging silenced and its errors and warnings
    collected, so that a corrupt file is refused with VTK's reason instead of printing to
    stderr. A truncated binary file, which VTK reads as garbage with only a warning, is
    refused too. (``pyvista.read`` would log and re-raise on its own; the raw reader is
    updated here instead.)"""
    with pv.vtk_verbosity("off"), pv.VtkErrorCatcher(raise_errors=False, send_to_logging=False) as caught:
        vtk_reader = pv.get_reader(str(path)).reader  # XML readers parse the header here
        vtk_reader.Update()
    if caught.events:
        raise ValueError(_vtk_reason(caught.events[0].alert))
    return pv.wrap(vtk_reader.GetOutputDataObject(0))


def _vtk_reason(alert: str) -> str:
    """VTK's message without its "In file.cxx, line N" header and object address."""
    lines = [line.strip() for line in alert.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else "VTK reported an error"
    return re.sub(r"^vtk\w+ \(0x[0-9a-f]+\):\s*", "", reason)


# --------------------------------------------------------------------------- text points


class _Reservoir:
    """A uniform random sample of ``k`` rows from a stream (Vitter's Algorithm R, vectorized)."""

    def __init__(self, k: int, rng: np.random.Generator) -> None:
        self.k, self.rng, self.seen = k, rng, 0
        self.rows = np.empty((k, 3), dtype=np.float64)

    def add(self, block: np.ndarray) -> None:
        take = max(0, min(self.k - self.seen, len(block)))
        self.rows[self.seen : self.seen + take] = block[:take]
        rest = block[take:]
        if len(rest):
            index = self.seen + take + np.arange(len(rest))  # 0-based stream positions
            slot = self.rng.integers(0, index + 1)
            keep = slot < self.k
            slot, rest = slot[keep], rest[keep]
            # Several rows of one block may land in one slot: the latest one wins.
            _, last_rev = np.unique(slot[::-1], return_index=True)
            last = len(slot) - 1 - last_rev
            self.rows[slot[last]] = rest[last]
        self.seen += len(block)

    def result(self) -> np.ndarray:
        return self.rows[: min(self.seen, self.k)]


def _parse_row(line: str) -> list[float] | None:
    words = line.replace(",", " ").replace(";", " ").split()
    if len(words) < 3:
        return None
    try:
        return [float(w) for w in words[:3]]
    except ValueError:
        return None


def read_text_points(path: Path, max_points: int | None, rng: np.random.Generator) -> np.ndarray:
    """XYZ / PTS / TXT / CSV: ``x y z`` per line, comma/space/semicolon separated.

    Extra columns (intensity, colours, normals) are ignored; non-numeric lines at the top
    (a CSV header, the point count of a PTS file) and ``#`` comments are skipped. The file
    is read in blocks; with ``max_points`` only a reservoir sample is kept in memory.
    """
    reservoir = _Reservoir(max_points, rng) if max_points else None
    blocks: list[np.ndarray] = []
    started, line_base = False, 0
    with open(path, "rb") as f:
        while True:
            chunk = f.readlines(1 << 22)
            if not chunk:
                break
            raw = b"".join(chunk)
            if b"\x00" in raw:
                raise fail(path, "binary data, not a text file of x y z coordinates")
            try:
                lines = raw.decode("utf-8").splitlines()
            except UnicodeDecodeError:
                raise fail(path, "binary data, not a text file of x y z coordinates") from None
            skip = 0
            if not started:
                while skip < len(lines) and _parse_row(lines[skip].split("#")[0]) is None:
                    skip += 1
                started = skip < len(lines)
            block = _parse_text_block(path, lines[skip:], line_base + skip)
            line_base += len(lines)
            if not np.isfinite(block).all():
                row = int(np.argwhere(~np.isfinite(block).all(axis=1))[0, 0])
                raise fail(
                    path,
                    f"NaN or infinite coordinate in data row {row + 1} of a block "
                    f"starting at line {line_base - len(lines) + skip + 1}",
                )
            if reservoir is not None:
                reservoir.add(block)
            else:
                blocks.append(block)
    if reservoir is not None:
        return reservoir.result()
    return np.concatenate(blocks) if blocks else np.zeros((0, 3))


def _parse_text_block(path: Path, lines: list[str], first_line: int) -> np.ndarray:
    cleaned = [ln.split("#")[0].replace(",", " ").replace(";", " ") for ln in lines]
    cleaned = [ln for ln in cleaned if ln.strip()]
    if not cleaned:
        return np.zeros((0, 3))
    try:
        return np.loadtxt(cleaned, ndmin=2, usecols=(0, 1, 2), dtype=np.float64)
    except ValueError:
        pass
    for offset, line in enumerate(lines):  # find the culprit for the message
        stripped = line.split("#")[0]
        if stripped.strip() and _parse_row(stripped) is None:
            raise fail(path, f"line {first_line + offset + 1} is not 'x y z' numbers: {line.strip()[:60]!r}")
    raise fail(path, "malformed text point data")  # pragma: no cover


# --------------------------------------------------------------------------- NumPy


NPY_MAGIC = b"\x93NUMPY"


def load_npy(path: Path) -> np.ndarray:
    """The array of an ``.npy`` file, memory-mapped; never unpickles objects."""
    with open(path, "rb") as stream:
        if stream.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise fail(path, "not a NumPy .npy file (no NUMPY header: binary garbage or another format)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise fail(path, f"not a readable .npy file ({_numpy_reason(exc)})") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (``points`` required); never unpickles objects."""
    if not zipfile.is_zipfile(path):
        raise fail(path, "not a NumPy .npz file (not a zip archive: garbage, truncated or another format)")
    try:
        check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            if "points" not in data.files:
                raise fail(path, f"the .npz has no 'points' array (it holds {sorted(data.files)})")
            return {k: data[k] for k in data.files}
    except BadInputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise fail(path, f"not a readable .npz file ({_numpy_reason(exc)})") from None


def _numpy_reason(exc: BaseException) -> str:
    """NumPy's reason, except its advice to unpickle: object arrays are never loaded."""
    text = _first_line(exc)
    if "allow_pickle" in text or "pickled" in text or "Python objects" in text:
        return "it holds Python objects (pickled data), which are never loaded; save float arrays"
    return text[:200]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_npy(path: Path, max_points: int | None, rng: np.random.Generator) -> np.ndarray:
    """One shape in an ``.npy``: (P, 3), or (1, P, 3)."""
    return _one_shape(path, load_npy(path), max_points, rng)


def read_npz(path: Path, max_points: int | None, rng: np.random.Generator) -> np.ndarray:
    """One shape in an ``.npz``: ``points`` (P, 3), or (1, P, 3)."""
    return _one_shape(path, load_npz(path)["points"], max_points, rng)


def _one_shape(path: Path, array: np.ndarray, max_points: int | None, rng: np.random.Generator) -> np.ndarray:
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[-1] == 3:
        raise fail(path, f"holds {array.shape[0]} shapes {array.shape}; open it as a collection")
    if array.ndim != 2 or array.shape[1] != 3:
        raise fail(path, f"wrong array shape {array.shape}: expected (P, 3) points")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise fail(path, f"wrong array type {array.dtype}: expected numbers")
    if max_points is not None and len(array) > max_points:
        array = array[_random_subset(len(array), max_points, rng)]
    return np.asarray(array, dtype=np.float64)
