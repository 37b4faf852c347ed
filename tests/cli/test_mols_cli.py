"""``flowstudio mols train/sample/eval`` end to end, in subprocesses, on a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.molecules.test_graph import SMILES

TINY = ["--set", "hidden=8", "--set", "st_hidden=8", "--set", "flow_layers=2", "--set", "rgcn_layers=2",
        "--set", "batch_size=8", "--set", "validate_every=2", "--set", "samples_n=0",
        "--set", "validation_fraction=0.1", "--set", "ring_tilt_steps=0"]  # the tilt: test_tilting.py


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "flowstudio", "mols", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mols")
    data = root / "train.smi"
    data.write_text("\n".join(SMILES) + "\n")
    run = root / "run"
    out = cli("train", "--data", str(data), "--out", str(run), "--iters", "4", "--device", "cpu", *TINY)
    assert out.returncode == 0, out.stderr
    return data, run


def test_train_writes_a_run_and_resume_continues(trained) -> None:
    _, run = trained
    assert (run / "config.json").is_file() and (run / "checkpoints" / "latest.pt").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "molecules" and config["model_name"] == "graphaf"
    assert config["task"]["vocabulary"]["max_atoms"] == 15
    out = cli("train", "--out", str(run), "--resume", "--iters", "6", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "resumed from step 4" in out.stdout + out.stderr
    steps = [json.loads(line).get("step") for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(s for s in steps if s is not None) == 6
    from flowstudio.training import load_checkpoint

    assert load_checkpoint(run / "checkpoints" / "latest.pt").step == 6


def test_resume_refuses_a_changed_network_or_data(trained, capsys) -> None:
    from flowstudio.cli import main

    _, run = trained
    before = (run / "checkpoints" / "latest.pt").read_bytes()
    changes = ((["--set", "hidden=96"], "hidden"), (["--set", "max_molecules=5"], "max_molecules"))
    for change, named in changes:
        args = ["mols", "train", "--out", str(run), "--resume", "--iters", "50", "--device", "cpu", *change]
        code = main(args)
        err = capsys.readouterr().err.strip()
        assert code == 2 and named in err and len(err.splitlines()) == 1, err
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before


def test_sample_and_eval(trained, tmp_path) -> None:
    data, run = trained
    csv = tmp_path / "s.csv"
    out = cli("sample", "--run", str(run), "--n", "12", "--out", str(csv), "--seed", "0")
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stderr and "without check" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    lines = [x for x in csv.read_text().splitlines() if not x.startswith("#")]
    assert lines[0].startswith("smiles") and "QED" in lines[0] and "resampled" in lines[0]
    assert len(lines) == 13
    smi = tmp_path / "s.smi"
    out = cli("sample", "--run", str(run), "--n", "12", "--out", str(smi), "--no-check", "--temperature", "1")
    assert out.returncode == 0, out.stderr
    assert smi.read_text().startswith("# valid_without_check:")
    out = cli("eval", "--samples", str(csv), "--train", str(data), "--no-fcd")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["valid"] == 1.0 and "valid_without_check" in metrics
    assert 0.0 <= metrics["cut_at_cap_redrawn"] <= 1.0  # the sampler's share, passed through


def test_bond_temperature_sets_the_bond_steps_alone(trained, tmp_path, capsys) -> None:
    """``--bond-temperature`` replaces the run's bonds-times-temperature and nothing else: given
    the default's own value it draws the default's molecules, and another value draws others."""
    from flowstudio.cli import main

    _, run = trained
    values = json.loads((run / "config.json").read_text())["task"]["values"]
    default_bonds = 1.0 * values["bond_temperature"]

    def sample(name: str, *extra: str) -> tuple[str, str]:
        out = tmp_path / name
        code = main(["mols", "sample", "--run", str(run), "--n", "30", "--device", "cpu", "--seed", "3",
                     "--temperature", "1", "--out", str(out), *extra])
        err = capsys.readouterr().err
        assert code == 0, err
        return out.read_text(), err

    default, _ = sample("default.smi")
    same, _ = sample("same.smi", "--bond-temperature", repr(default_bonds))
    hot, err = sample("hot.smi", "--bond-temperature", "2.5")
    assert same == default
    assert hot != default and "(bonds 2.5)" in err


def test_bad_inputs_exit_2_with_one_line(trained, tmp_path) -> None:
    _, run = trained
    junk = tmp_path / "junk.smi"
    junk.write_text("not_a_smiles\nC1CC\n")
    out = cli("train", "--data", str(junk), "--out", str(tmp_path / "r"), "--iters", "1", "--device", "cpu")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr

    corrupt = tmp_path / "corrupt"
    (corrupt / "checkpoints").mkdir(parents=True)
    (corrupt / "checkpoints" / "best.pt").write_bytes(b"\x00not a checkpoint")
    out = cli("sample", "--run", str(corrupt), "--n", "2", "--out", str(tmp_path / "x.smi"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr

    from flowstudio.training import save_checkpoint

    foreign = tmp_path / "foreign"
    (foreign / "checkpoints").mkdir(parents=True)
    save_checkpoint(foreign / "checkpoints" / "best.pt", kind="points", model_name="pointflow", config={},
                    model_state={"w": torch.zeros(1)}, extra_state={}, optimizer_state=None,
                    engine_state={}, step=1, metric=None)
    out = cli("sample", "--run", str(foreign), "--n", "2", "--out", str(tmp_path / "x.smi"))
    assert out.returncode == 2 and "points" in out.stderr, out.stderr

    out = cli("sample", "--run", str(run), "--n", "2", "--out", str(tmp_path / "x.xyz"))
    assert out.returncode == 2, out.stderr


@pytest.mark.parametrize(
    ("extra", "out_name", "reason"),
    [
        (["--temperature", "inf"], "x.smi", "temperature"),
        (["--bond-temperature", "-1"], "x.smi", "--bond-temperature must be a finite number"),
        (["--seed", "99999999999999999999"], "x.smi", "seed"),
        ([], "missing/x.csv", "does not exist"),
        ([], "/proc/x.csv", "cannot be written"),
        (["--n", "2000000"], "x.smi", "--n must be between 1 and 1,000,000"),
    ],
)
def test_bad_sampling_requests_exit_2_and_write_nothing(
    trained, tmp_path, capsys, extra: list[str], out_name: str, reason: str
) -> None:
    from flowstudio.cli import main

    _, run = trained
    out = tmp_path / out_name
    code = main(["mols", "sample", "--run", str(run), "--n", "2", "--device", "cpu",
                 "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and reason in err, err
    assert not out.exists()
    assert out.parent.exists() == (reason != "does not exist")  # a missing folder is not created
