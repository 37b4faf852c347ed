"""``flowstudio mols optimize``: a tiny GraphAF run, a CSV row per start, exit 2 on bad input."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator

from flowstudio.cli import main
from tests.cli.test_mols_cli import TINY
from tests.molecules.test_graph import SMILES


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("optimize")
    (root / "train.smi").write_text("\n".join(SMILES) + "\n")
    (root / "starts.smi").write_text("c1ccccc1\nCc1ccncc1\nCC(=O)Nc1ccc(O)cc1\nC[Si](C)(C)C\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "flowstudio", "mols", "train", "--data", "train.smi", "--out", "run",
         "--iters", "2", "--device", "cpu", *TINY],
        cwd=root, capture_output=True, text=True, timeout=600, env=env,
    )
    assert out.returncode == 0, out.stderr
    return root


def test_writes_one_row_per_encodable_start(
    trained: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(trained)
    code = main(["mols", "optimize", "--run", "run", "--data", "starts.smi", "--property", "mw",
                 "--sim", "0.3", "--steps", "4", "--max-distance", "2", "--scatter", "3", "--out", "opt.csv"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 start molecule(s) the model cannot encode" in captured.err  # Si is not in its vocabulary
    summary = json.loads(captured.out)
    assert summary["property"] == "mw" and summary["starts"] == 3 and summary["fit_molecules"] == len(SMILES)
    rows = list(csv.DictReader((trained / "opt.csv").open()))
    assert [r["start"] for r in rows] == [Chem.CanonSmiles(s) for s in ("c1ccccc1", "Cc1ccncc1",
                                                                        "CC(=O)Nc1ccc(O)cc1")]
    assert summary["success"] == pytest.approx(sum(bool(r["smiles"]) for r in rows) / 3)
    fingerprint = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024).GetFingerprint
    for row in rows:
        assert int(row["candidates"]) == 4 * 4
        assert float(row["start_value"]) == pytest.approx(Descriptors.MolWt(Chem.MolFromSmiles(row["start"])))
        if row["smiles"]:
            a, b = Chem.MolFromSmiles(row["start"]), Chem.MolFromSmiles(row["smiles"])
            assert DataStructs.TanimotoSimilarity(fingerprint(a), fingerprint(b)) >= 0.3
            assert float(row["value"]) > float(row["start_value"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--sim": "1.5"}, "--sim must be within"),
        ({"--property": "tpsa"}, "invalid choice: 'tpsa'"),
        ({"--out": "opt.txt"}, "write a .csv file"),
        ({"--data": "missing.smi"}, "missing.smi"),
        ({"--run": "nowhere"}, "--run nowhere: no such run folder"),
        ({"--sigma": "-1"}, "sigma must be"),
        ({"--fit-molecules": "2"}, "--fit-molecules must be"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    trained: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, change, message
) -> None:
    monkeypatch.chdir(trained)
    args = {"--run": "run", "--data": "starts.smi", "--property": "qed", "--out": "bad.csv", **change}
    code = _exit_code(["mols", "optimize", *[item for pair in args.items() for item in pair]])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(re.escape(message), err), err
    assert not (trained / "bad.csv").exists() and not (trained / "opt.txt").exists()


def _exit_code(argv: list[str]) -> int | str | None:
    """``main``'s return code, or the code of the SystemExit of an argparse usage error."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code
