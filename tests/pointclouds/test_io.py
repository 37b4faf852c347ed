"""Point-cloud readers and writers: round trips, meshes, bad files, collections, samples."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import io, readers, writers
from flowstudio.pointclouds.samples import builtin_sample, builtin_samples

# A unit cube centred at the origin: 8 corners, 6 quads (counter-clockwise from outside).
CUBE_V = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
CUBE_QUADS = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
CUBE_TRIS = [[q[0], q[1], q[2]] for q in CUBE_QUADS] + [[q[0], q[2], q[3]] for q in CUBE_QUADS]


def cloud(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def assert_on_cube(points: np.ndarray) -> None:
    assert np.abs(points).max() <= 0.5 + 1e-6
    assert np.all(np.isclose(np.abs(points), 0.5, atol=1e-5).any(axis=1))


# --------------------------------------------------------------------------- meshes written by hand


def ply_header(fmt: str, n_v: int, n_f: int, extra: str = "") -> bytes:
    return (
        f"ply\nformat {fmt} 1.0\ncomment test cube\nelement vertex {n_v}\n"
        f"property float x\nproperty float y\nproperty float z\n{extra}"
        f"element face {n_f}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()


def write_cube_ply_ascii(path: Path) -> None:
    body = "".join(f"{x} {y} {z}\n" for x, y, z in CUBE_V)
    body += "".join(f"4 {' '.join(map(str, q))}\n" for q in CUBE_QUADS)
    path.write_bytes(ply_header("ascii", 8, 6) + body.encode())


def write_cube_ply_binary(path: Path, order: str = "<", mixed: bool = False) -> None:
    fmt = "binary_little_endian" if order == "<" else "binary_big_endian"
    faces = CUBE_QUADS if mixed else CUBE_TRIS
    data = b"".join(struct.pack(order + "3f", *v) for v in CUBE_V)
    data += b"".join(struct.pack(f"{order}B{len(f)}i", len(f), *f) for f in faces)
    path.write_bytes(ply_header(fmt, 8, len(faces)) + data)


def write_cube_obj(path: Path) -> None:
    text = "# cube\no cube\n" + "".join(f"v {x} {y} {z}\n" for x, y, z in CUBE_V)
    text += "vn 0 0 1\n" + "".join("f " + " ".join(f"{i + 1}//1" for i in q) + "\n" for q in CUBE_QUADS)
    path.write_text(text)


def write_cube_off(path: Path, modelnet_header: bool = False) -> None:
    head = "OFF8 6 0\n" if modelnet_header else "OFF\n# comment\n8 6 0\n"
    text = head + "".join(f"{x} {y} {z}\n" for x, y, z in CUBE_V)
    text += "".join(f"4 {' '.join(map(str, q))}\n" for q in CUBE_QUADS)
    path.write_text(text)


def write_cube_stl(path: Path, binary: bool) -> None:
    tris = CUBE_V[np.asarray(CUBE_TRIS)]
    if binary:
        data = b"\0" * 80 + struct.pack("<I", len(tris))
        data += b"".join(struct.pack("<12fH", 0, 0, 0, *t.ravel(), 0) for t in tris)
        path.write_bytes(data)
    else:
        lines = ["solid cube"]
        for t in tris:
            lines += ["facet normal 0 0 0", "outer loop", *[f"vertex {x} {y} {z}" for x, y, z in t]]
            lines += ["endloop", "endfacet"]
        path.write_text("\n".join([*lines, "endsolid cube", ""]))


MESH_WRITERS = {
    "ascii.ply": write_cube_ply_ascii,
    "binary_le.ply": write_cube_ply_binary,
    "binary_be.ply": lambda p: write_cube_ply_binary(p, ">"),
    "quads.ply": lambda p: write_cube_ply_binary(p, "<", mixed=True),
    "cube.obj": write_cube_obj,
    "cube.off": write_cube_off,
    "modelnet.off": lambda p: write_cube_off(p, modelnet_header=True),
    "ascii.stl": lambda p: write_cube_stl(p, binary=False),
    "binary.stl": lambda p: write_cube_stl(p, binary=True),
}


@pytest.mark.parametrize("name", sorted(MESH_WRITERS))
def test_meshes_are_surface_sampled(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    MESH_WRITERS[name](path)
    points = io.read_shape(path, n_points=600, seed=3)
    assert points.shape == (600, 3) and points.dtype == np.float32
    assert_on_cube(points)
    # Area weighting: each of the 6 equal faces gets about a sixth of the points.
    counts = [(np.isclose(points[:, a], s * 0.5, atol=1e-5)).sum() for a in range(3) for s in (-1, 1)]
    assert min(counts) > 60 and max(counts) < 150, counts
    np.testing.assert_array_equal(points, io.read_shape(path, n_points=600, seed=3))
    assert not np.array_equal(points, io.read_shape(path, n_points=600, seed=4))


def test_vtk_formats_through_pyvista(tmp_path: Path) -> None:
    pv = pytest.importorskip("pyvista")
    cube = pv.Cube(center=(0, 0, 0), x_length=1, y_length=1, z_length=1).triangulate()
    for ext in (".vtp", ".vtk"):
        cube.save(tmp_path / f"cube{ext}")
        assert_on_cube(io.read_shape(tmp_path / f"cube{ext}", n_points=300))
    pv.PolyData(cloud(40).astype(np.float64)).save(tmp_path / "points.vtp")
    np.testing.assert_allclose(io.read_shape(tmp_path / "points.vtp"), cloud(40), atol=1e-6)


def test_box_sampling_weights_faces_by_area(tmp_path: Path) -> None:
    # A 4 x 1 x 1 box: the four long faces hold 16/18 of the area.
    path = tmp_path / "box.obj"
    verts = CUBE_V * np.array([4.0, 1.0, 1.0])
    text = "".join(f"v {x} {y} {z}\n" for x, y, z in verts)
    text += "".join("f " + " ".join(str(i + 1) for i in q) + "\n" for q in CUBE_QUADS)
    path.write_text(text)
    points = io.read_shape(path, n_points=4000)
    on_ends = np.isclose(np.abs(points[:, 0]), 2.0, atol=1e-5).mean()
    assert abs(on_ends - 2 / 18) < 0.03


# --------------------------------------------------------------------------- point formats round trip


@pytest.mark.parametrize("name", ["p.ply", "p_ascii.ply", "p.xyz", "p.npy", "p.npz"])
def test_points_round_trip_exactly(tmp_path: Path, name: str) -> None:
    points = cloud(50) * 1000  # large values stress the text precision
    path = io.write_points(tmp_path / name, points, ascii="ascii" in name)
    np.testing.assert_array_equal(io.read_shape(path), points)
    if name == "p.ply":
        assert b"binary_little_endian" in path.read_bytes()[:100]


def test_collections_round_trip_with_split_and_names(tmp_path: Path) -> None:
    shapes = np.stack([cloud(32, s) for s in range(5)])
    split = ["train", "test", "train", "train", "test"]
    names = [f"s{i}" for i in range(5)]
    io.write_points(tmp_path / "c.npz", shapes, split=split, names=names)
    c = io.read_collection(tmp_path / "c.npz", n_points=None)
    np.testing.assert_array_equal(c.points, shapes)
    assert c.split.tolist() == split and c.names == names and c.skipped == []
    assert c.subset("test").names == ["s1", "s4"]
    io.write_points(tmp_path / "c.npy", shapes)
    np.testing.assert_array_equal(io.read_collection(tmp_path / "c.npy", n_points=None).points, shapes)
    sub = io.read_collection(tmp_path / "c.npz", n_points=10)
    assert sub.points.shape == (5, 10, 3)
    for small, full in zip(sub.points, shapes, strict=True):  # each a subset of its own shape
        assert all((np.abs(full - p).sum(1) == 0).any() for p in small)
    paths = io.write_shapes(tmp_path / "out", shapes[:2])
    assert [p.name for p in paths] == ["shape_000.ply", "shape_001.ply"]


def test_sampled_clouds_go_to_one_file_or_one_file_each_as_the_format_allows(tmp_path: Path) -> None:
    clouds = np.stack([cloud(20) + k for k in range(3)])
    [npz] = io.write_clouds(tmp_path / "s.npz", clouds)
    np.testing.assert_array_equal(io.read_collection(npz, n_points=None).points, clouds)
    plys = io.write_clouds(tmp_path / "s.ply", clouds)
    assert [p.name for p in plys] == ["s_000.ply", "s_001.ply", "s_002.ply"]
    for path, expected in zip(plys, clouds, strict=True):
        np.testing.assert_array_equal(io.read_shape(path), expected)
    assert io.write_clouds(tmp_path / "one.xyz", clouds[:1]) == [tmp_path / "one.xyz"]


def test_text_formats_headers_separators_and_extra_columns(tmp_path: Path) -> None:
    points = cloud(20)
    rows = [" ".join(f"{v:.9g}" for v in p) for p in points]
    (tmp_path / "a.csv").write_text("x,y,z,intensity\n" + "".join(r.replace(" ", ",") + ",7\n" for r in rows))
    (tmp_path / "b.pts").write_text(f"{len(rows)}\n" + "".join(r + " 1 255 0 0\n" for r in rows))
    (tmp_path / "c.txt").write_text("# scan\n\n" + "".join(r + "\n" for r in rows) + "# end\n")
    for name in ("a.csv", "b.pts", "c.txt"):
        np.testing.assert_array_equal(io.read_shape(tmp_path / name), points)


def test_content_sniffing_beats_a_wrong_extension(tmp_path: Path) -> None:
    points = cloud(20)
    io.write_points(tmp_path / "a.ply", points)
    (tmp_path / "a.ply").rename(tmp_path / "really_ply.xyz")
    np.testing.assert_array_equal(io.read_shape(tmp_path / "really_ply.xyz"), points)
    io.write_points(tmp_path / "b.npy", points)
    (tmp_path / "b.npy").rename(tmp_path / "b.data")
    assert io.reader_for(tmp_path / "b.data").name == "NPY"
    np.testing.assert_array_equal(io.read_shape(tmp_path / "b.data"), points)


def test_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out.xyz"
    target.write_text("old\n")

    def broken(stream) -> None:
        stream.write(b"half of it")
        raise OSError("disk full")

    with pytest.raises(OSError):
        writers.atomic_write(target, broken)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xyz"]
    with pytest.raises(BadInputError, match="NaN"):
        io.write_points(tmp_path / "nan.ply", np.full((20, 3), np.nan))
    assert not (tmp_path / "nan.ply").exists()


def test_unwritable_target_is_bad_input_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def denied(path, write) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(writers, "atomic_write", denied)
    with pytest.raises(BadInputError, match=r"out\.npz: cannot be written \(Permission denied\)"):
        io.write_points(tmp_path / "out.npz", np.zeros((20, 3)))


def test_write_refuses_unknown_extension_and_many_shapes_in_one_ply(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"out\.foo.*cannot write"):
        io.write_points(tmp_path / "out.foo", cloud())
    with pytest.raises(BadInputError, match="holds one shape"):
        io.write_points(tmp_path / "out.ply", np.zeros((3, 20, 3)))


# --------------------------------------------------------------------------- large files


def test_large_binary_ply_and_npy_are_subsampled(tmp_path: Path) -> None:
    points = cloud(100_000)
    for name in ("big.ply", "big.npy"):
        io.write_points(tmp_path / name, points)
        small = io.read_shape(tmp_path / name, n_points=100, seed=1)
        assert small.shape == (100, 3)
        assert len(np.unique(small, axis=0)) == 100
        assert np.isin(small[:, 0], points[:, 0]).all()


def test_text_reservoir_sample_is_uniform(tmp_path: Path) -> None:
    hits = np.zeros(100)
    for seed in range(1500):
        sample = readers._Reservoir(10, np.random.default_rng(seed))
        for start in range(0, 100, 7):  # blocks, as the streaming reader sees them
            block = np.arange(start, min(start + 7, 100), dtype=float)[:, None].repeat(3, 1)
            sample.add(block)
        rows = sample.result()[:, 0].astype(int)
        assert len(set(rows.tolist())) == 10
        hits[rows] += 1
    freq = hits / 1500
    assert abs(freq.mean() - 0.1) < 1e-9 and freq.min() > 0.06 and freq.max() < 0.14
    path = tmp_path / "big.xyz"
    io.write_points(path, cloud(5000))
    assert io.read_shape(path, n_points=64).shape == (64, 3)


# --------------------------------------------------------------------------- bad files


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, data: bytes, problem: str) -> None:
        (tmp / name).write_bytes(data)
        cases[name] = (tmp / name, problem)

    good_ply = tmp / "good.ply"
    io.write_points(good_ply, cloud(100))
    add("truncated.ply", good_ply.read_bytes()[:-500], "truncated")
    add("garbage.ply", bytes(range(256)) * 4, "not a PLY file")
    add("noend.ply", b"ply\nformat ascii 1.0\nelement vertex 3\n", "truncated PLY header")
    add("garbage.xyz", bytes(range(256)) * 4, "binary data")
    add("nan.xyz", b"".join(b"1 2 3\n" for _ in range(30)) + b"1 nan 3\n", "NaN")
    np.save(tmp / "inf.npy", np.full((30, 3), np.inf))
    cases["inf.npy"] = (tmp / "inf.npy", "NaN or infinite")
    add("empty.ply", b"", "empty file")
    add("few.xyz", b"1 2 3\n4 5 6\n", "too few points")
    add("words.xyz", b"1 2 3\n4 5 6\nhello world again\n", "line 3")
    add("shape.unknownext", b"1 2 3\n", "unknown file type")
    np.save(tmp / "wrong.npy", np.zeros((30, 4)))
    cases["wrong.npy"] = (tmp / "wrong.npy", "wrong array shape")
    np.savez(tmp / "nopoints.npz", pts=np.zeros((2, 30, 3)))
    cases["nopoints.npz"] = (tmp / "nopoints.npz", "no 'points' array")
    add("garbage.npy", b"\x93NUMPY" + bytes(range(200)), "not a readable .npy")
    add("noise.npy", bytes(range(256)) * 4, "no NUMPY header")
    add("noise.npz", bytes(range(256)) * 4, "not a zip archive")
    np.savez(tmp / "objects.npz", points=np.array([{"x": 1}], dtype=object))
    cases["objects.npz"] = (tmp / "objects.npz", "Python objects")
    vtk_header = b"# vtk DataFile Version 3.0\nx\nBINARY\nDATASET POLYDATA\nPOINTS 100 float\n"
    add("truncated.vtk", vtk_header + b"\x01\x02", "truncated, or a lying header")
    xml = b'<?xml version="1.0"?>\n<VTKFile type="PolyData"><PolyData><Piece'
    add("broken.vtp", xml, "Error parsing XML")
    add("short.stl", b"\0" * 80 + struct.pack("<I", 12) + b"\0" * 100, "truncated")
    add("badface.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "refers to vertex")
    add("badoff.off", b"OFF\n8 6 0\n0 0 0\n", "truncated OFF")
    header = b"ply\nformat ascii 1.0\nelement vertex -5\n" + b"".join(
        b"property float %s\n" % axis for axis in (b"x", b"y", b"z")
    )
    add("negcount.ply", header + b"end_header\n", "negative count")
    return cases


def test_bad_files_raise_clear_errors(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for name, (path, problem) in bad_files(tmp_path).items():
        with pytest.raises(BadInputError) as info:
            io.read_shape(path)
        message = str(info.value)
        assert name in message and problem in message, (name, message)
        assert "allow_pickle" not in message
    # the reason is in the message; nothing (VTK's logger, pyvista's) reaches the terminal
    assert capfd.readouterr().err == ""
    with pytest.raises(BadInputError, match="no such file"):
        io.read_shape(tmp_path / "missing.ply")
    np.savez(tmp_path / "wrong.npz", points=np.zeros((2, 30, 2)))
    with pytest.raises(BadInputError, match=r"wrong\.npz: wrong 'points' shape"):
        io.read_collection(tmp_path / "wrong.npz")
    np.savez(tmp_path / "split.npz", points=np.zeros((2, 30, 3)), split=np.array(["train", "dev"]))
    with pytest.raises(BadInputError, match="'split' values"):
        io.read_collection(tmp_path / "split.npz")


# --------------------------------------------------------------------------- collections


def test_folder_collection_skips_and_reports_bad_files(tmp_path: Path) -> None:
    for i in range(3):
        io.write_points(tmp_path / f"good{i}.xyz", cloud(40, i))
    write_cube_obj(tmp_path / "mesh.obj")
    (tmp_path / "broken.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 9")
    (tmp_path / "notes.md").write_text("ignored: not a point-cloud extension")
    c = io.read_collection(tmp_path, n_points=32)
    assert c.points.shape == (4, 32, 3) and c.split is None
    assert c.names == ["good0.xyz", "good1.xyz", "good2.xyz", "mesh.obj"]
    assert len(c.skipped) == 1 and c.skipped[0][0] == "broken.ply" and "truncated" in c.skipped[0][1]
    loaded = io.load(tmp_path)
    assert not loaded.single and len(loaded) == 4


def test_folder_with_train_test_subfolders_gets_a_split(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        (tmp_path / split).mkdir()
        for i in range(n):
            io.write_points(tmp_path / split / f"{i}.npy", cloud(20, i))
    c = io.read_collection(tmp_path, n_points=16)
    assert sorted(c.split.tolist()) == ["test", "test", "train", "train", "train"]


def test_all_bad_or_empty_collections_fail(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no point-cloud files"):
        io.read_collection(tmp_path)
    (tmp_path / "a.xyz").write_text("1 2 3\n")
    (tmp_path / "b.ply").write_text("nonsense")
    with pytest.raises(BadInputError, match="none of the 2 files could be read"):
        io.read_collection(tmp_path)


def test_npz_collection_skips_shapes_with_nan(tmp_path: Path) -> None:
    shapes = np.stack([cloud(20, s) for s in range(4)])
    shapes[2, 5, 1] = np.nan
    np.savez(tmp_path / "c.npz", points=shapes)
    c = io.read_collection(tmp_path / "c.npz", n_points=None)
    assert len(c) == 3 and c.skipped == [("c[2]", "NaN or infinite coordinates")]


def test_load_dispatches_single_files_and_collections(tmp_path: Path) -> None:
    write_cube_ply_ascii(tmp_path / "cube.ply")
    one = io.load(tmp_path / "cube.ply")
    assert one.single and one.points.shape == (1, io.DEFAULT_MESH_POINTS, 3)
    io.write_points(tmp_path / "many.npz", np.stack([cloud(20, s) for s in range(3)]))
    assert not io.load(tmp_path / "many.npz").single
    assert io.is_collection(tmp_path) and not io.is_collection(tmp_path / "cube.ply")


def test_dialog_filters_cover_every_format() -> None:
    filters = io.open_dialog_filters()
    assert filters[0].startswith("Point clouds and meshes (") and filters[-1] == "All files (*)"
    for ext in (".ply", ".obj", ".off", ".stl", ".vtk", ".vtp", ".xyz", ".pts", ".csv", ".npy", ".npz"):
        assert ext in io.SUPPORTED_READ_EXTENSIONS and f"*{ext}" in filters[0]
    assert "PLY mesh or points (*.ply)" in filters
    assert [f.split("(")[-1] for f in io.save_dialog_filters()] == ["*.ply)", "*.xyz)", "*.npy)", "*.npz)"]


def test_register_a_new_reader(tmp_path: Path) -> None:
    def read_json(path: Path, max_points, rng) -> np.ndarray:
        import json

        return np.asarray(json.loads(path.read_text()), dtype=float)

    io.register_reader(io.Reader("JSON", "JSON points", (".json",), read_json))
    try:
        (tmp_path / "p.json").write_text(str(cloud(20).tolist()))
        np.testing.assert_allclose(io.read_shape(tmp_path / "p.json"), cloud(20))
        assert "JSON points (*.json)" in io.open_dialog_filters()
    finally:
        io.unregister_reader("JSON")
    assert "JSON points (*.json)" not in io.open_dialog_filters()


def test_builtin_samples_load() -> None:
    names = [s.name for s in builtin_samples()]
    assert names == ["Procedural shapes", "Torus knot"]
    shapes = io.read_collection(builtin_sample("Procedural shapes").path, n_points=None)
    assert shapes.points.shape == (200, 1024, 3) and (shapes.split == "test").sum() == 40
    assert builtin_sample("Procedural shapes").path.stat().st_size <= 2_000_000
    knot = io.read_shape(builtin_sample("torus_knot").path, n_points=512)
    assert knot.shape == (512, 3) and np.isfinite(knot).all()
