"""``flowstudio points score`` and ``points diagnose`` end to end, in subprocesses, on a tiny run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowstudio.cli import main
from flowstudio.pointclouds.scores import SCORES

TINY = ["--set", "train_points=64", "--set", "points_per_shape=96", "--set", "flow_layers=2",
        "--set", "flow_hidden=16", "--set", "validate_every=3", "--set", "snapshot_points=16"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowstudio", "points", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of RealNVP on a squashed sphere; ten such spheres in-distribution, ten wide blobs not."""
    root = tmp_path_factory.mktemp("points_score")
    rng = np.random.default_rng(0)
    sphere = rng.normal(size=(12, 96, 3))
    sphere /= np.linalg.norm(sphere, axis=-1, keepdims=True)
    sphere = (sphere * np.array([1.0, 0.5, 0.25])).astype(np.float32)
    np.savez(root / "train.npz", points=sphere[:2])
    np.savez(root / "in.npz", points=sphere[2:], names=np.array([f"sphere_{i}" for i in range(10)]))
    np.savez(root / "out.npz", points=(rng.normal(size=(10, 96, 3)) * 3).astype(np.float32))
    result = cli("train", "--data", "train.npz", "--out", "run", "--model", "realnvp", "--iters", "12",
                 "--device", "cpu", *TINY, cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def test_score_writes_one_row_per_shape(workdir: Path) -> None:
    result = cli("score", "--run", "run", "--data", "in.npz", "--out", "scores.csv", "--points", "64",
                 cwd=workdir)
    assert result.returncode == 0, result.stderr
    with open(workdir / "scores.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 10
    assert list(rows[0]) == ["name", "points", *SCORES]
    assert [row["name"] for row in rows] == [f"sphere_{i}" for i in range(10)]
    assert all(row["points"] == "64" and row["latent_ll"] == "" for row in rows)
    assert all(np.isfinite(float(row["mean_point_ll"])) for row in rows)


def test_score_prints_the_auroc_of_each_score(workdir: Path) -> None:
    result = cli("score", "--run", "run", "--in", "in.npz", "--out-of", "out.npz", "--points", "64",
                 cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"auroc_mean_point_ll", "auroc_shape_ll_per_point", "auroc_typicality",
                           "n_in", "n_out_of", "points"}
    assert all(0.0 <= report[k] <= 1.0 for k in report if k.startswith("auroc_"))
    assert report["auroc_mean_point_ll"] > 0.9  # wide blobs are far less likely than the sphere


@pytest.mark.parametrize("args, message", [
    (["--data", "in.npz"], "--out"),
    (["--in", "in.npz"], "--out-of"),
    (["--data", "in.npz", "--out", "x.csv", "--in", "in.npz", "--out-of", "out.npz"], "not both"),
    (["--data", "missing.npz", "--out", "x.csv"], "missing.npz"),
    (["--data", "in.npz", "--out", "x.txt"], ".csv"),
    (["--data", "in.npz", "--out", "nowhere/x.csv"], "does not exist"),
    (["--data", "in.npz", "--out", "x.csv", "--points", "0"], "--points"),
])
def test_bad_score_requests_exit_2_and_write_nothing(
    workdir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(workdir)  # in process: the same main() as the command, without its start-up
    assert main(["points", "score", "--run", "run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (workdir / "x.csv").exists() and not (workdir / "x.txt").exists()


def test_a_failed_score_leaves_an_existing_csv_untouched(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    (workdir / "kept.csv").write_text("old\n")
    assert main(["points", "score", "--run", "no_run", "--data", "in.npz", "--out", "kept.csv"]) == 2
    assert "no_run" in capsys.readouterr().err
    assert (workdir / "kept.csv").read_text() == "old\n"
    assert not list(workdir.glob(".kept.csv.*"))


def test_diagnose_prints_json_for_a_healthy_coupling_flow(workdir: Path) -> None:
    result = cli("diagnose", "--run", "run", "--data", "in.npz", "--shapes", "2", "--points", "32",
                 cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    section = report["flows"]["point_flow"]
    assert section["round_trip_data"]["max"] < 1e-4 and section["round_trip_samples"]["max"] < 1e-4
    assert section["log_det"]["max"] < 1e-3
    assert section["lipschitz"]["forward"] > 0 and section["lipschitz"]["inverse"] > 0
    assert report["healthy"] is True and report["flags"] == []
    assert report["data_shapes"] == 2

    bad = cli("diagnose", "--run", "run", "--points", "0", cwd=workdir)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
