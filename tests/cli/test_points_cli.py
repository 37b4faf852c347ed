"""``flowstudio points train/sample/eval`` end to end, in subprocesses, on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TINY = [
    "--set", "point_hidden=8-8", "--set", "solver=euler", "--set", "steps=1",
    "--set", "train_points=32", "--set", "points_per_shape=96", "--set", "validate_every=3",
    "--set", "snapshot_points=16", "--set", "log_every=1",
]
OFFSET = 100.0


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowstudio", "points", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six squashed spheres far from the origin (+100): the frame must survive the round trip."""
    root = tmp_path_factory.mktemp("points_cli")
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(6, 96, 3))
    pts /= np.linalg.norm(pts, axis=-1, keepdims=True)
    pts = pts * np.array([1.0, 0.5, 0.25]) + OFFSET
    np.savez(root / "tiny.npz", points=pts.astype(np.float32))
    return root


@pytest.fixture(scope="module")
def trained(workdir: Path) -> Path:
    result = cli("train", "--data", "tiny.npz", "--out", "run", "--model", "cnf", "--iters", "4",
                 "--device", "cpu", *TINY, cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "run"


def test_train_writes_the_run_folder(trained: Path) -> None:
    assert (trained / "config.json").is_file()
    assert (trained / "checkpoints" / "latest.pt").is_file()
    assert (trained / "checkpoints" / "best.pt").is_file()
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert any("validation" in r for r in records)
    config = json.loads((trained / "config.json").read_text())
    assert config["kind"] == "points" and config["model_name"] == "cnf"
    assert config["task"]["normalization"]["center"][0] == pytest.approx(OFFSET, abs=1.0)


def test_sample_comes_back_in_the_data_frame(trained: Path, workdir: Path) -> None:
    result = cli("sample", "--run", "run", "--shapes", "3", "--points", "50", "--out", "s.npy",
                 "--seed", "1", cwd=workdir)
    assert result.returncode == 0, result.stderr
    samples = np.load(workdir / "s.npy")
    assert samples.shape == (3, 50, 3)
    assert np.isfinite(samples).all()
    # the shape has radius 1 around +100: a barely trained flow still lands there (median:
    # robust to the odd far-flung point of a flow trained for four steps)
    assert np.abs(np.median(samples.reshape(-1, 3), axis=0) - OFFSET).max() < 1.0

    result = cli("sample", "--run", "run", "--shapes", "2", "--points", "20", "--out", "s.ply", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "s_000.ply").is_file() and (workdir / "s_001.ply").is_file()


def test_sample_takes_a_solver_and_a_step_count(trained: Path, workdir: Path) -> None:
    drawn = {}
    for name, extra in (("own", []), ("euler1", ["--solver", "euler", "--steps", "1"]),
                        ("rk4_16", ["--steps", "16"]), ("dopri5", ["--solver", "dopri5"])):
        result = cli("sample", "--run", "run", "--shapes", "2", "--points", "40", "--seed", "3",
                     "--out", f"{name}.npy", *extra, cwd=workdir)
        assert result.returncode == 0, result.stderr
        drawn[name] = np.load(workdir / f"{name}.npy")
    # the run's own solver is euler with one step; rk4 in 16 steps lands next to dopri5
    np.testing.assert_allclose(drawn["own"], drawn["euler1"], rtol=1e-5, atol=1e-5)
    gap = {name: np.abs(drawn[name] - drawn["dopri5"]).max() for name in ("rk4_16", "own")}
    assert gap["rk4_16"] < 0.01 < gap["own"]


def test_eval_prints_one_json_object(trained: Path, workdir: Path) -> None:
    assert cli("sample", "--run", "run", "--shapes", "4", "--points", "96", "--out", "e.npz",
               cwd=workdir).returncode == 0
    result = cli("eval", "--samples", "e.npz", "--ref", "tiny.npz", cwd=workdir)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert "1-NNA-CD" in metrics and "MMD-CD" in metrics


def test_resume_continues_from_the_saved_step(trained: Path, workdir: Path) -> None:
    result = cli("train", "--out", "run", "--resume", "--iters", "6", "--device", "cpu", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "resumed from step 4" in result.stderr
    ckpt = torch.load(trained / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 6


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (["--set", "normalization=none"], "normalization 'shape' -> 'none'"),
        (["--set", "test_fraction=0.3"], "test_fraction"),
        (["--seed", "7"], "seed 0 -> 7"),
        (["--set", "point_hidden=16-16"], "point_hidden"),
    ],
)
def test_resume_refuses_a_changed_data_frame_seed_or_network(
    trained: Path, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    change: list[str], named: str,
) -> None:
    before = (trained / "checkpoints" / "latest.pt").read_bytes()
    args = ["train", "--out", "run", "--resume", "--iters", "50", "--device", "cpu", *change]
    code, err = run_in_process(args, workdir, capsys, monkeypatch)
    assert code == 2 and named in err and "new --out" in err
    assert len(err.strip().splitlines()) == 1
    assert (trained / "checkpoints" / "latest.pt").read_bytes() == before


def run_in_process(args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """The CLI's exit code and stderr without a subprocess (bad input fails before any work)."""
    from flowstudio.cli import main

    monkeypatch.chdir(cwd)
    try:
        code = main(["points", *args])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--data", "tiny.npz", "--out", "r", "--model", "unknown"],
        ["train", "--data", "missing.npz", "--out", "r"],
        ["train", "--data", "tiny.npz", "--out", "r", "--set", "no_such_key=1"],
        ["train", "--data", "tiny.npz", "--out", "r", "--set", "latent_dim=-3"],
        ["train", "--data", "tiny.npz", "--out", "r", "--set", "point_hidden=wide"],
        ["train", "--data", "tiny.npz", "--out", "r", "--set", "point_hidden=-8-8"],  # a negative width
        ["train", "--data", "tiny.npz", "--out", "r", "--seed", "99999999999999999999"],
        ["train", "--data", "tiny.npz", "--out", "r", "--model", "realnvp", "--set", "bins=5"],  # nsf's
        ["sample", "--run", "nowhere", "--out", "x.npy"],
        ["eval", "--samples", "tiny.npz", "--ref", "tiny.npz", "--emd-points", "5000"],
        ["eval", "--samples", "tiny.npz", "--ref", "tiny.npz", "--points", "1000000"],
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], workdir: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run_in_process(args, workdir, capsys, monkeypatch)
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_corrupt_or_foreign_checkpoints_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from flowstudio.training.checkpoint import save_checkpoint

    corrupt = workdir / "corrupt" / "checkpoints"
    corrupt.mkdir(parents=True)
    (corrupt / "best.pt").write_bytes(b"not a checkpoint")
    code, err = run_in_process(["sample", "--run", "corrupt", "--out", "x.npy"], workdir, capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1

    foreign = workdir / "molecules" / "checkpoints"
    save_checkpoint(foreign / "best.pt", kind="molecules", model_name="graphaf", config={},
                    model_state={"w": torch.zeros(1)})
    args = ["sample", "--run", "molecules", "--out", "x.npy"]
    code, err = run_in_process(args, workdir, capsys, monkeypatch)
    assert code == 2 and "molecules" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--temperature", "inf", "--out", "x.npy"], "finite"),
        (["--seed", "99999999999999999999", "--out", "x.npy"], "'seed'"),
        (["--out", "."], "is a folder"),
        (["--shapes", "2", "--out", "no_such_folder/x.ply"], "does not exist"),
        (["--out", "/proc/flowstudio_cannot_write.npy"], "cannot be written"),
        (["--shapes", "100000", "--points", "100000", "--out", "x.npy"], "more than the 50,000,000"),
        (["--solver", "euler", "--steps", "0", "--out", "x.npy"], "1 to 1000 steps"),
    ],
)
def test_bad_sampling_requests_exit_2_and_write_nothing(
    trained: Path, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    extra: list[str], problem: str,
) -> None:
    args = ["sample", "--run", "run", "--points", "20", *extra]
    code, err = run_in_process(args, workdir, capsys, monkeypatch)
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not (workdir / "no_such_folder").exists() and not (workdir / "x.npy").exists()


def test_train_names_the_shapes_it_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pts = np.random.default_rng(0).normal(size=(3, 96, 3)).astype(np.float32)
    pts[1, 5, 2] = np.nan
    np.savez(tmp_path / "nan.npz", points=pts)
    args = ["train", "--data", "nan.npz", "--out", "r", "--model", "cnf", "--iters", "1", "--device", "cpu",
            *TINY]
    code, err = run_in_process(args, tmp_path, capsys, monkeypatch)
    assert code == 0
    assert "data: nan.npz (1 skipped (first: nan[1]: NaN or infinite coordinates))" in err
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["data_skipped"] == {"count": 1, "first_reasons": ["nan[1]: NaN or infinite coordinates"]}


WITHOUT_RDKIT = """
import importlib.abc, sys
class NoRDKit(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "rdkit":
            raise ImportError("No module named 'rdkit' (hidden by the test)")
sys.meta_path.insert(0, NoRDKit())
from flowstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_point_cloud_commands_work_without_rdkit(workdir: Path) -> None:
    """A GPU machine may lack RDKit: points train/sample run, mols says what is missing."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", WITHOUT_RDKIT, *args], cwd=workdir,
                              capture_output=True, text=True, timeout=120)

    trained = run("points", "train", "--data", "tiny.npz", "--out", "run_no_rdkit", "--model", "cnf",
                  "--iters", "2", "--device", "cpu", *TINY)
    assert trained.returncode == 0, trained.stderr
    drawn = run("points", "sample", "--run", "run_no_rdkit", "--shapes", "1", "--points", "16",
                "--out", "no_rdkit.npz")
    assert drawn.returncode == 0, drawn.stderr
    assert np.load(workdir / "no_rdkit.npz")["points"].shape == (1, 16, 3)
    refused = run("mols", "train", "--data", "x.smi", "--out", "m")
    assert refused.returncode == 2 and "need RDKit" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
