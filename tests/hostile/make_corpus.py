"""The hostile-input corpus: broken and malicious files and odd arguments for the CLI.

Nothing here is committed as a binary: :func:`make_corpus` writes every file into a folder
(tiny files, a few KB in all) and returns the cases, each a command line run in that
folder with the exit code and the stderr fragment it must give. Every case must end with
exactly one line on stderr, no traceback, no file left behind and, for the files that
carry a pickle, no code run: their payload would create :data:`MARKER` when unpickled.

    python tests/hostile/make_corpus.py OUT_FOLDER     # writes the files, lists the cases
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MARKER = "PWNED"
"""The file a malicious payload creates when it is unpickled (it must never appear)."""


@dataclass(frozen=True)
class Case:
    """``argv`` (after ``flowstudio``), run in the corpus folder; ``expect`` is a fragment of
    the one stderr line; ``code`` the exit status."""

    name: str
    argv: tuple[str, ...]
    expect: str
    code: int = 2


class _Payload:
    """Pickles as a call to ``open(marker, "w")``: loading it would create the marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _points(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def _ply_face_first(binary: bool) -> bytes:
    v = _points(20)
    faces = [(i, i + 1, i + 2) for i in range(18)]
    encoding = "binary_little_endian" if binary else "ascii"
    head = ["ply", f"format {encoding} 1.0", f"element face {len(faces)}",
            "property list uchar int vertex_indices", f"element vertex {len(v)}", "property float x",
            "property float y", "property float z", "end_header"]
    text = "\n".join(head) + "\n"
    if binary:
        return text.encode() + b"".join(struct.pack("<B3i", 3, *f) for f in faces) + v.tobytes()
    body = [f"3 {a} {b} {c}" for a, b, c in faces] + [f"{x} {y} {z}" for x, y, z in v]
    return (text + "\n".join(body) + "\n").encode()


def _xyz(points: np.ndarray) -> str:
    return "".join(f"{x} {y} {z}\n" for x, y, z in points)


def _checkpoint_run(folder: Path, name: str, data: bytes | None = None, **save: object) -> str:
    """A run folder whose ``best.pt`` is ``data``, or a checkpoint written from ``save``."""
    from flowstudio.training.checkpoint import save_checkpoint

    path = folder / name / "checkpoints" / "best.pt"
    path.parent.mkdir(parents=True)
    if data is not None:
        path.write_bytes(data)
    else:
        save_checkpoint(path, **save)  # type: ignore[arg-type]
    return name


def _files(d: Path) -> None:
    """The data files of the point and molecule cases."""
    marker = str(d / MARKER)
    pts = _points()
    np.save(d / "good.npy", pts)
    (d / "face_first.ply").write_bytes(_ply_face_first(binary=False))
    (d / "face_first_bin.ply").write_bytes(_ply_face_first(binary=True))
    (d / "negative_counts.off").write_text("OFF\n-5 -3 0\n" + _xyz(pts[:8]))
    (d / "negative_faces.off").write_text("OFF\n8 -3 0\n" + _xyz(pts[:8]))
    (d / "lying_counts.off").write_text("OFF\n1000000 2000000 0\n" + _xyz(pts[:4]))
    (d / "huge_count.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 1000000000000000\nproperty float x\n"
        b"property float y\nproperty float z\nend_header\n" + pts[:4].tobytes()
    )
    (d / "no_end_header.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n")
    (d / "garbage.ply").write_bytes(b"ply\n" + bytes(range(256)) * 4)
    with_nan = pts.copy()
    with_nan[5, 1] = np.nan
    (d / "nan.xyz").write_text(_xyz(with_nan))
    (d / "inf.xyz").write_text(_xyz(pts[:7]) + "1.0 inf 2.0\n" + _xyz(pts[7:]))
    (d / "empty.xyz").write_bytes(b"")
    (d / "binary.xyz").write_bytes(bytes(range(256)) * 8)
    np.save(d / "pickled.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    np.savez(d / "pickled.npz", points=np.array([_Payload(marker)], dtype=object))
    header = np.lib.format.header_data_from_array_1_0(pts)
    header["shape"] = (10**9, 3)  # a header promising 12 GB over a 1 KB body
    with open(d / "lying_header.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(pts.tobytes())
    (d / "garbage.npy").write_bytes(os.urandom(512))
    legacy = "# vtk DataFile Version 3.0\nlying\n{}\nDATASET POLYDATA\nPOINTS 2000000000 float\n"
    (d / "lying_ascii.vtk").write_text(legacy.format("ASCII") + "0 0 0 1 0 0 0 1 0\n")
    (d / "lying_binary.vtk").write_bytes(legacy.format("BINARY").encode() + pts[:3].tobytes())  # 22 GB in VTK
    member = io.BytesIO()  # an .npz member whose header promises 10^10 points (112 GiB)
    np.lib.format.write_array_header_1_0(member, {**header, "shape": (10**10, 3)})
    member.write(pts.tobytes())
    with zipfile.ZipFile(d / "lying_member.npz", "w") as archive:
        archive.writestr("points.npy", member.getvalue())
    np.savez(d / "no_points.npz", shapes=pts[None])
    np.savez(d / "whole.npz", points=np.stack([pts, pts]))
    (d / "truncated.npz").write_bytes((d / "whole.npz").read_bytes()[:300])
    all_nan = np.stack([with_nan, with_nan])
    np.savez(d / "all_nan.npz", points=all_nan)
    np.savez(d / "one_nan.npz", points=np.stack([pts, with_nan, pts]))
    (d / "truncated.stl").write_bytes(b"\x00" * 80 + struct.pack("<I", 1000) + b"\x00" * 50)
    (d / "bad_index.obj").write_text("".join(f"v {x} {y} {z}\n" for x, y, z in pts[:4]) + "f 1 2 99\n")
    (d / "all_bad").mkdir()
    (d / "all_bad" / "a.xyz").write_text(_xyz(with_nan))
    (d / "all_bad" / "b.off").write_text("OFF\n-1 0 0\n")
    os.mkfifo(d / "fifo.xyz")
    os.mkfifo(d / "fifo.smi")
    np.save(d / "samples_nan.npy", with_nan[None])
    (d / "not_a_folder").write_text("a file where a run folder should be\n")
    # molecules
    (d / "huge.smi").write_text("C" * 200_000 + "\n")
    (d / "huge_invalid.smi").write_text("C((" * 70_000 + "\n")
    (d / "empty.smi").write_text("# a comment and nothing else\n")
    (d / "binary.smi").write_bytes(b"\x00\x01garbage" + os.urandom(200))
    (d / "all_invalid.smi").write_text("C1CC\nZZ\nCC(C\nc1cccc1X\n")
    (d / "no_smiles_column.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    (d / "garbage.sdf").write_text("this is not\na mol block\n$$$$\n")
    (d / "lying.sdf").write_text(
        "ethanol\n  RDKit          2D\n\n  9  2  0  0  0  0  0  0  0  0999 V2000\n"
        "    0.0000    0.0000    0.0000 C   0  0\n    1.2990    0.7500    0.0000 C   0  0\n"
        "    2.5981   -0.0000    0.0000 O   0  0\n  1  2  1  0\n  2  3  1  0\nM  END\n$$$$\n"
    )
    good = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCC", "CC(C)O", "C1CCCCC1", "CCOC", "OCCO", "CC#N"]
    (d / "mixed.smi").write_text("\n".join([*good[:5], "C1CC", *good[5:], "ZZ"]) + "\n")
    (d / "mixed.smi.gz").write_bytes(gzip.compress((d / "mixed.smi").read_bytes(), mtime=0))
    # checkpoints
    weights = {"w": torch.ones(2)}
    common = {"model_name": "realnvp", "config": {}, "model_state": weights}
    torch.save({"format": "flowstudio-checkpoint", "model_state": _Payload(marker)}, d / "evil.pt")
    _checkpoint_run(d, "run_evil", data=(d / "evil.pt").read_bytes())
    import pickle

    _checkpoint_run(d, "run_evil_raw", data=pickle.dumps(_Payload(marker)))
    _checkpoint_run(d, "run_mols_kind", kind="molecules", **{**common, "model_name": "graphaf"})
    _checkpoint_run(d, "run_points_kind", kind="points", **common)
    full = d / "run_points_kind" / "checkpoints" / "best.pt"
    _checkpoint_run(d, "run_truncated", data=full.read_bytes()[: len(full.read_bytes()) // 2])
    _checkpoint_run(d, "run_empty", data=b"")
    nan_weights = {"w": torch.tensor([1.0, np.nan])}
    _checkpoint_run(d, "run_nan", kind="points", **{**common, "model_state": nan_weights})
    _checkpoint_run(d, "run_garbage", data=os.urandom(1024))
    (d / "run_no_checkpoint" / "checkpoints").mkdir(parents=True)


def _train(kind: str, data: str, *extra: str) -> tuple[str, ...]:
    model = ("--model", "realnvp") if kind == "points" else ()
    return (kind, "train", "--data", data, "--out", "run", *model, "--iters", "1", "--device", "cpu", *extra)


def cases() -> list[Case]:
    """Every case, in the order the suite runs them."""
    points = [
        ("face_first.ply", "face element comes before the vertex element"),
        ("face_first_bin.ply", "face element comes before the vertex element"),
        ("negative_counts.off", "negative counts"),
        ("negative_faces.off", "negative counts"),
        ("lying_counts.off", "truncated OFF file"),
        ("huge_count.ply", "truncated PLY file"),
        ("no_end_header.ply", "no 'end_header'"),
        ("garbage.ply", "PLY header"),
        ("nan.xyz", "NaN or infinite"),
        ("inf.xyz", "NaN or infinite"),
        ("empty.xyz", "empty file"),
        ("binary.xyz", "binary data"),
        ("pickled.npy", "pickled data"),
        ("pickled.npz", "pickled data"),
        ("lying_header.npy", "not a readable .npy"),
        ("garbage.npy", "not a NumPy .npy file"),
        ("lying_member.npz", "lying header"),
        ("lying_ascii.vtk", "declares 2,000,000,000 points"),
        ("lying_binary.vtk", "declares 2,000,000,000 points"),
        ("no_points.npz", "no 'points' array"),
        ("truncated.npz", ".npz"),
        ("all_nan.npz", "every shape has NaN"),
        ("truncated.stl", "truncated"),
        ("bad_index.obj", "refers to vertex"),
        ("fifo.xyz", "named pipe"),
        ("all_bad", "none of the 2 files could be read"),
        ("/dev/null", "a device"),
    ]
    molecules = [
        ("huge.smi", "a SMILES of 200,000 characters"),
        ("huge_invalid.smi", "a SMILES of 210,000 characters"),
        ("empty.smi", "holds no molecules"),
        ("binary.smi", "binary file"),
        ("all_invalid.smi", "no valid molecule"),
        ("no_smiles_column.csv", "no SMILES column"),
        ("garbage.sdf", "no valid molecule"),
        ("lying.sdf", "no valid molecule"),
        ("fifo.smi", "named pipe"),
    ]
    out = [Case(f"points train {name}", _train("points", name), expect) for name, expect in points]
    out += [Case(f"mols train {name}", _train("mols", name), expect) for name, expect in molecules]
    out += [
        Case("mols train --strict, 2 bad of 12", _train("mols", "mixed.smi", "--strict"), "2 bad records"),
        Case("mols train --strict gzipped", _train("mols", "mixed.smi.gz", "--strict"), "2 bad records"),
        Case("points train --strict, 1 NaN shape of 3",
             ("points", "train", "--data", "one_nan.npz", "--out", "run", "--iters", "1", "--strict"),
             "1 bad record"),
        Case("points eval NaN samples",
             ("points", "eval", "--samples", "samples_nan.npy", "--ref", "good.npy"), "NaN"),
        Case("points eval pickled ref", ("points", "eval", "--samples", "good.npy", "--ref", "pickled.npy"),
             "pickled data"),
        Case("mols eval huge reference", ("mols", "eval", "--samples", "mixed.smi", "--train", "huge.smi"),
             "200,000 characters"),
    ]
    sample_points = ("points", "sample", "--shapes", "1", "--points", "32", "--out", "s.npy", "--run")
    sample_mols = ("mols", "sample", "--n", "2", "--device", "cpu", "--out", "s.smi", "--run")
    out += [
        Case("malicious checkpoint (torch zip)", (*sample_points, "run_evil"), "holds the Python object"),
        Case("malicious checkpoint (raw pickle)", (*sample_mols, "run_evil_raw"), "cannot be read"),
        Case("molecule checkpoint for points", (*sample_points, "run_mols_kind"), "'molecules' checkpoint"),
        Case("points checkpoint for molecules", (*sample_mols, "run_points_kind"), "'points' checkpoint"),
        Case("truncated checkpoint", (*sample_points, "run_truncated"), "cannot be read"),
        Case("empty checkpoint", (*sample_points, "run_empty"), "cannot be read"),
        Case("NaN weights", (*sample_points, "run_nan"), "NaN or infinite values"),
        Case("garbage checkpoint", (*sample_mols, "run_garbage"), "cannot be read"),
        Case("run without checkpoints", (*sample_points, "run_no_checkpoint"), "holds no checkpoint"),
        Case("points score, malicious checkpoint",
             ("points", "score", "--data", "good.npy", "--out", "s.csv", "--run", "run_evil"),
             "holds the Python object"),
        Case("points diagnose, malicious checkpoint", ("points", "diagnose", "--run", "run_evil"),
             "holds the Python object"),
        Case("mols score, malicious checkpoint",
             ("mols", "score", "--data", "mixed.smi", "--out", "s.csv", "--run", "run_evil_raw"),
             "cannot be read"),
        Case("mols diagnose, malicious checkpoint", ("mols", "diagnose", "--run", "run_evil_raw"),
             "cannot be read"),
    ]
    out += [
        Case("points without an action", ("points",), "missing ACTION"),
        Case("mols without an action", ("mols",), "missing ACTION"),
        Case("unknown command", ("pointz", "train"), "invalid choice"),
        Case("negative --iters", ("points", "train", "--data", "good.npy", "--out", "run", "--iters", "-5"),
             "'iters' must be >= 0"),
        Case("--set without =", _train("points", "good.npy", "--set", "nonsense"), "--set expects KEY=VALUE"),
        Case("huge --seed", _train("points", "good.npy", "--seed", "9" * 30), "'seed' must be <="),
        Case("--iters not a number",
             ("points", "train", "--data", "good.npy", "--out", "run", "--iters", "many"), "invalid int"),
        Case("--shapes 0", ("points", "sample", "--run", "run_points_kind", "--shapes", "0", "--out",
                            "s.npy"), "--shapes and --points must be >= 1"),
        Case("--n 0", ("mols", "sample", "--run", "run_points_kind", "--n", "0", "--out", "s.smi"),
             "--n must be between"),
        Case("NaN temperature", (*sample_points[:-1], "--temperature", "nan", "--run", "run_points_kind"),
             "--temperature must be a finite number"),
        Case("--out is a file", ("points", "train", "--data", "good.npy", "--out", "not_a_folder", "--model",
                                 "realnvp", "--iters", "1", "--device", "cpu"), "exists and is not a folder"),
        Case("--resume without a run",
             ("mols", "train", "--data", "mixed.smi", "--out", "nowhere", "--resume"), "not a run folder"),
        Case("unknown output extension", (*sample_points[:-3], "--out", "s.docx", "--run", "run_points_kind"),
             "cannot write '.docx'"),
    ]
    return out


def make_corpus(folder: str | os.PathLike[str]) -> list[Case]:
    """Write the corpus into ``folder`` (created; must be empty) and return its cases."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _files(folder)
    return cases()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_FOLDER")
    for case in make_corpus(sys.argv[1]):
        print(f"{case.code}  {case.name}: flowstudio {' '.join(case.argv)}")
