"""``flowstudio points arithmetic``: a tiny PointFlow run edits a shape; bad input exits 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowstudio.cli import main

TINY_POINTFLOW = [
    "--model", "pointflow", "--iters", "2", "--device", "cpu",
    "--set", "point_hidden=8-8", "--set", "solver=euler", "--set", "steps=1",
    "--set", "train_points=32", "--set", "points_per_shape=64", "--set", "validate_every=2",
    "--set", "snapshot_points=16", "--set", "latent_dim=4", "--set", "encoder_hidden=8-8",
    "--set", "prior_hidden=8-8", "--set", "val_shapes=1", "--set", "prior_refine_s=0",
]


def boxes(n: int, height: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, size=(n, 64, 3)) * np.array([1.0, height, 1.0]) + 50.0).astype(np.float32)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Short and tall boxes and a PointFlow run trained for two steps on both."""
    root = tmp_path_factory.mktemp("arithmetic")
    short, tall = boxes(3, 0.4, 0), boxes(3, 1.6, 1)
    np.savez(root / "short.npz", points=short)
    np.savez(root / "tall.npz", points=tall)
    np.savez(root / "all.npz", points=np.concatenate([short, tall]))
    result = subprocess.run(
        [sys.executable, "-m", "flowstudio", "points", "train", "--data", "all.npz", "--out", "run",
         *TINY_POINTFLOW],
        cwd=root, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return root


def test_edits_a_shape_at_every_strength(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "edited.npz"
    code = main(["points", "arithmetic", "--run", str(workdir / "run"), "--from", str(workdir / "short.npz"),
                 "--to", str(workdir / "tall.npz"), "--shape", str(workdir / "short.npz"), "--index", "2",
                 "--strength", "1.5", "--steps", "3", "--points", "40", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == str(out)
    edited = np.load(out)["points"]
    assert edited.shape == (3, 40, 3) and np.isfinite(edited).all()
    assert np.abs(edited.reshape(-1, 3).mean(0) - 50.0).max() < 10.0  # in the data's frame
    assert not np.allclose(edited[0], edited[2])  # the strength moved the shape


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--from": "missing.npz"}, "--from missing.npz: no such file"),
        ({"--steps": "0"}, "--steps must be 1 to"),
        ({"--strength": "nan"}, "strength must be a finite number"),
        ({"--index": "7"}, "--index 7: .* holds 3 shape"),
        ({"--out": "edited.txt"}, "txt"),
        ({"--run": "nowhere"}, "--run nowhere: no such run folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, change, message
) -> None:
    monkeypatch.chdir(workdir)
    args = {"--run": "run", "--from": "short.npz", "--to": "tall.npz", "--shape": "short.npz",
            "--out": "edited.npz", **change}
    code = main(["points", "arithmetic", *[item for pair in args.items() for item in pair]])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (workdir / "edited.txt").exists()
