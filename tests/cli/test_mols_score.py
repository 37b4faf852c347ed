"""``flowstudio mols score``: GraphAF likelihood scores per molecule (CSV) and AUROC (JSON)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from flowstudio.cli import main
from flowstudio.molecules.scores import SCORES
from tests.cli.test_mols_cli import TINY, cli
from tests.molecules.test_graph import SMILES

OUT_OF_DISTRIBUTION = [
    "CCCCCCCCCCCCCCCCCCCCCC", "CCCCCCCCCCCCCCCCCCCCCCCCC", "C[Si](C)(C)C", "OP(=O)(O)O",
    "CCCCCCCCCCCCCCCCCCCCCCCCCCCO", "C[Se]C",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny GraphAF run on the test molecules (a few steps)."""
    root = tmp_path_factory.mktemp("mols_score")
    data = root / "train.smi"
    data.write_text("\n".join(SMILES) + "\n")
    run = root / "run"
    out = cli("train", "--data", str(data), "--out", str(run), "--iters", "4", "--device", "cpu", *TINY,
              timeout=600)
    assert out.returncode == 0, out.stderr
    return data, run


def test_score_writes_one_row_per_molecule(trained, tmp_path: Path) -> None:
    _, run = trained
    data = tmp_path / "mixed.smi"
    data.write_text("\n".join([*SMILES[:5], "C[Si](C)(C)C"]) + "\n")
    out = tmp_path / "scores.csv"
    result = cli("score", "--run", str(run), "--data", str(data), "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 6
    assert list(rows[0]) == ["smiles", "name", "atoms", *SCORES, "reason"]
    for row in rows[:5]:
        assert np.isfinite(float(row["log_likelihood"])) and row["reason"] == ""
        per_atom = float(row["log_likelihood"]) / int(row["atoms"])
        assert abs(float(row["log_likelihood_per_atom"]) - per_atom) < 1e-9
    assert float(rows[5]["log_likelihood"]) == -np.inf and "Si" in rows[5]["reason"]


def test_auroc_json_and_an_out_of_distribution_set_scores_lower(trained, tmp_path: Path) -> None:
    data, run = trained
    outside = tmp_path / "outside.smi"
    outside.write_text("\n".join(OUT_OF_DISTRIBUTION) + "\n")
    result = cli("score", "--run", str(run), "--in", str(data), "--out-of", str(outside), timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {f"auroc_{name}" for name in SCORES} <= set(report)
    assert all(0.0 <= report[f"auroc_{name}"] <= 1.0 for name in SCORES)
    assert report["n_in"] == len(SMILES) and report["n_out_of"] == len(OUT_OF_DISTRIBUTION)
    assert report["auroc_log_likelihood"] > 0.9


def test_bad_score_requests_exit_2_with_one_line(
    trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, run = trained
    cases = [
        (["--data", str(data)], "--out"),
        (["--data", str(data), "--out", str(tmp_path / "x.sdf")], ".csv"),
        (["--data", str(tmp_path / "missing.smi"), "--out", str(tmp_path / "x.csv")], "missing.smi"),
        (["--in", str(data)], "--out-of"),
    ]
    for args, message in cases:
        assert main(["mols", "score", "--run", str(run), *args]) == 2, args  # in process
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.iterdir())


def test_diagnose_prints_json_on_the_runs_data_and_refuses_bad_counts(
    trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, run = trained
    assert main(["mols", "diagnose", "--run", str(run), "--molecules", "6"]) == 0  # in process
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is True and report["flags"] == []
    assert report["data"] == str(data) and report["data_molecules"] == 6  # the run's training file
    assert report["flows"] == {}  # classifier steps (the presets'): the graph round trip checks them
    assert report["graph_round_trip"]["data"] == {"molecules": 6, "failed": 0, "worst": []}
    assert main(["mols", "diagnose", "--run", str(run), "--molecules", "0"]) == 2  # in process
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--molecules" in err
    assert main(["mols", "diagnose", "--run", str(run), "--data", str(tmp_path / "none.smi")]) == 2
    assert "none.smi" in capsys.readouterr().err
