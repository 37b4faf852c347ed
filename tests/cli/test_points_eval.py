"""``flowstudio points eval``: one JSON object on stdout, exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowstudio.cli import main
from flowstudio.pointclouds.metrics import METRIC_KEYS


def spheres(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 64, 3))
    return (x / np.linalg.norm(x, axis=2, keepdims=True)).astype(np.float32)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    np.save(tmp_path / "samples.npy", spheres(6, 1))
    split = np.array(["train"] * 4 + ["test"] * 5)
    np.savez(tmp_path / "ref.npz", points=spheres(9, 2), split=split)
    return tmp_path


def test_eval_prints_one_json_object_with_the_published_keys(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["points", "eval", "--samples", str(data / "samples.npy"), "--ref", str(data / "ref.npz"),
                 "--emd-points", "16"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    assert all(isinstance(result[k], float) for k in METRIC_KEYS)
    assert result["n_samples"] == 6 and result["n_ref"] == 5 and result["split"] == "test"

    main(["points", "eval", "--samples", str(data / "samples.npy"), "--ref", str(data / "ref.npz"),
          "--split", "all", "--emd-points", "0", "--points", "32"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["n_ref"] == 9 and result["n_points"] == 32 and result["MMD-EMD"] is None


@pytest.mark.parametrize(
    ("samples", "problem"),
    [("missing.npz", "no such file"), ("garbage.ply", "not a PLY file"), ("wrong.npy", "wrong array shape")],
)
def test_eval_bad_input_exits_2_with_one_line(
    data: Path, capsys: pytest.CaptureFixture[str], samples: str, problem: str
) -> None:
    (data / "garbage.ply").write_bytes(bytes(range(256)))
    np.save(data / "wrong.npy", np.zeros((30, 2)))
    code = main(["points", "eval", "--samples", str(data / samples), "--ref", str(data / "ref.npz")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and samples in err and problem in err


def test_eval_split_without_a_split_in_the_reference(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["points", "eval", "--samples", str(data / "samples.npy"), "--ref", str(data / "samples.npy"),
                 "--split", "test"])  # fmt: skip
    assert code == 2 and "has no 'split'" in capsys.readouterr().err


def test_eval_entry_point_exit_code(data: Path) -> None:
    (data / "empty.npz").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "flowstudio", "points", "eval", "--samples", str(data / "empty.npz"),
         "--ref", str(data / "ref.npz")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "empty file" in result.stderr


@pytest.mark.parametrize("device", ["bogus", "mps"])
def test_eval_unknown_or_absent_device_exits_2(
    data: Path, capsys: pytest.CaptureFixture[str], device: str
) -> None:
    code = main(["points", "eval", "--samples", str(data / "samples.npy"), "--ref", str(data / "ref.npz"),
                 "--emd-points", "0", "--device", device])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"device {device!r}" in err and len(err.strip().splitlines()) == 1


def test_eval_output_is_strict_json_even_when_distances_overflow(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(data / "far.npy", spheres(6, 3) * np.float32(1e37))
    code = main(["points", "eval", "--samples", str(data / "far.npy"), "--ref", str(data / "ref.npz"),
                 "--emd-points", "0"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0 and "not finite" in err
    json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON output"))
