"""``flowstudio mols eval`` prints one JSON object, and exits 2 with one line on bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flowstudio.cli import main
from flowstudio.molecules.io import write_molecules

TRAIN = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Nc1ccc(O)cc1", "c1ccc(-c2ccncc2)cc1", "CN1CCC[C@H]1c1cccnc1"]


def test_eval_prints_one_json_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "samples.smi"
    sampler = "# valid_without_check: 0.75\n# cut_at_cap_redrawn: 0.04\n# ring_types_redrawn: 0.2\n"
    samples.write_text(sampler + "CCO\nOCC\nc1ccc(-c2ccncc2)cc1\nC1CC\n")
    train = write_molecules(tmp_path / "train.csv", TRAIN)
    test = write_molecules(tmp_path / "test.sdf", TRAIN[:3])
    code = main(["mols", "eval", "--samples", str(samples), "--train", str(train), "--test", str(test)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("\n") == 1
    result = json.loads(out)
    assert result["valid"] == 3 / 4
    assert result["valid_without_check"] == 0.75 and result["cut_at_cap_redrawn"] == 0.04
    assert result["ring_types_redrawn"] == 0.2 and "bondless_redrawn" not in result
    assert result["unique"] == pytest.approx(2 / 3)
    assert result["novel"] == 1 / 2
    assert result["n_reference"] == 3
    for key in ("IntDiv1", "IntDiv2", "SNN/Test", "Frag/Test", "FCD/Test", "logP", "SA", "QED", "weight"):
        assert isinstance(result[key], float) and math.isfinite(result[key]), key
    for key in ("rings", "aromatic_rings", "heavy_atoms", "ring_size_tv", "ring_size_w1"):
        assert isinstance(result[key], float) and math.isfinite(result[key]), key
    for key in ("Filters", "Filters_ref", "ring_unusual_share", "ring_unusual_share_ref"):
        assert 0.0 <= result[key] <= 1.0, key


def test_eval_reports_odd_rings_and_filtered_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cyclopropane has a ring below 5 atoms; benzaldehyde fails the aldehyde filter
    samples = write_molecules(tmp_path / "s.smi", ["C1CC1", "c1ccccc1", "O=Cc1ccccc1"])
    train = write_molecules(tmp_path / "train.smi", TRAIN)
    code = main(["mols", "eval", "--samples", str(samples), "--train", str(train), "--no-fcd"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["ring_unusual_share"] == 1 / 3 and result["ring_unusual_share_ref"] == 0.0
    assert result["Filters"] == 2 / 3 and result["Filters_ref"] == 1.0
    assert result["Scaf/Test"] is None or isinstance(result["Scaf/Test"], float)  # NaN becomes null


def test_eval_of_all_invalid_samples_reports_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = write_molecules(tmp_path / "s.csv", [None, "C1CC"], comments=["valid_without_check: 0.1"])
    train = write_molecules(tmp_path / "train.smi", TRAIN)
    code = main(["mols", "eval", "--samples", str(samples), "--train", str(train), "--no-fcd"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["valid"] == 0.0 and result["FCD/Test"] is None
    assert result["valid_without_check"] == 0.1


@pytest.mark.parametrize(
    ("train_content", "expected"),
    [
        (None, "no such file"),
        ("CXC\nC1CC\n", "no valid molecule in train.smi"),
        ("a,b\n1,2\n", "no SMILES column"),
    ],
)
def test_eval_exits_2_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], train_content: str | None, expected: str
) -> None:
    samples = write_molecules(tmp_path / "s.smi", ["CCO"])
    train = tmp_path / ("train.csv" if train_content and "," in train_content else "train.smi")
    if train_content is not None:
        train.write_text(train_content)
    code = main(["mols", "eval", "--samples", str(samples), "--train", str(train)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert expected in captured.err and captured.err.count("\n") == 1


def test_eval_names_the_filter_rules_samples_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--filter-reasons``: each rule with the valid samples failing it, most frequent first."""
    smiles = ["O=Cc1ccccc1", "O=CCc1ccccc1", "C=CC(=O)NC", "c1ccccc1", "C1CC"]  # two aldehydes, an acrylamide
    samples = write_molecules(tmp_path / "s.smi", smiles)
    train = write_molecules(tmp_path / "train.smi", TRAIN)
    base = ["mols", "eval", "--samples", str(samples), "--train", str(train), "--no-fcd"]
    assert main([*base, "--filter-reasons"]) == 0
    result = json.loads(capsys.readouterr().out)
    reasons = result["Filters_failures"]
    assert list(reasons.values()) == [2, 1]
    assert "aldehyde" in next(iter(reasons)) and "acrylamide" in list(reasons)[1]
    assert result["Filters"] == pytest.approx(1 - 3 / 4)  # C1CC is not valid: 4 valid samples
    assert main(base) == 0
    assert "Filters_failures" not in json.loads(capsys.readouterr().out)


def test_eval_reports_ring_systems_the_training_set_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``unseen_ring_systems`` always, and with ``--unseen-kinds`` which kinds they are."""
    samples = write_molecules(tmp_path / "s.smi", ["c1ccc2ccccc2c1", "c1ccccc1O", "C1CC1C", "CCO"])
    train = write_molecules(tmp_path / "train.smi", ["c1ccccc1C", "CCN"])
    test = write_molecules(tmp_path / "test.smi", ["c1ccccc1", "c1ccc2[nH]ccc2c1"])
    base = ["mols", "eval", "--samples", str(samples), "--train", str(train), "--no-fcd"]
    assert main([*base, "--test", str(test), "--unseen-kinds"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unseen_ring_systems"] == pytest.approx(2 / 4)  # naphthalene and the cyclopropane
    assert result["unseen_ring_systems_ref"] == pytest.approx(1 / 2)  # the test set's indole
    assert result["unseen_ring_system_kinds"] == {"c1ccc2ccccc2c1": 1, "C1CC1": 1}
    assert main(base) == 0
    result = json.loads(capsys.readouterr().out)
    assert "unseen_ring_system_kinds" not in result and "unseen_ring_systems_ref" not in result
