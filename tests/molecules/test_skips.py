"""No silent loss in molecule files (issue 18): every skipped entry is counted with its
reason, as far as the training task's report; overlong lines are skipped unparsed."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from flowstudio.molecules.formats import MAX_MODEL_ATOMS, MAX_SMILES_CHARS
from flowstudio.molecules.io import read_molecules
from flowstudio.molecules.task import MoleculeTask

GOOD = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCC", "CC(C)O", "C1CCCCC1", "CCOC", "OCCO", "CC#N"]
BAD = ["C1CC", "ZZ", "CC(C", "c1cccc1X"]
TINY = {"hidden": 8, "st_hidden": 8, "flow_layers": 1, "rgcn_layers": 1}


def _sdf(path, smiles):
    writer = Chem.SDWriter(str(path))
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        AllChem.Compute2DCoords(mol)
        writer.write(mol)
    writer.close()
    return path.read_text()


def test_invalid_smiles_lines_reach_the_tasks_report(tmp_path):
    lines = [*GOOD[:3], BAD[0], *GOOD[3:6], BAD[1], BAD[2], *GOOD[6:], BAD[3]]
    (tmp_path / "mixed.smi").write_text("\n".join(lines) + "\n")
    task = MoleculeTask(str(tmp_path / "mixed.smi"), overrides=TINY)
    assert task.data_report.count == 4 and len(task.train_graphs) + len(task.valid_graphs) == 10
    first = task.data_report.reasons[0]
    assert first.startswith("line 4: ") and "unclosed ring" in first
    assert task.data_report.summary().startswith("4 skipped (first: line 4")


@pytest.mark.parametrize("damage", ["truncated", "lying counts"])
def test_a_damaged_sdf_record_is_counted(tmp_path, damage):
    text = _sdf(tmp_path / "good.sdf", GOOD[:5])
    if damage == "truncated":
        text = text[: text.rindex("M  END") - 20]
    else:  # the second record claims 9 atoms
        records = text.split("$$$$\n")
        lines = records[1].split("\n")
        lines[3] = "  9" + lines[3][3:]
        records[1] = "\n".join(lines)
        text = "$$$$\n".join(records)
    (tmp_path / "bad.sdf").write_text(text)
    task = MoleculeTask(str(tmp_path / "bad.sdf"), overrides=TINY)
    assert task.data_report.count == 1 and task.data_report.reasons[0].startswith("record ")
    assert "SDF record" in task.data_report.reasons[0]


def test_overlong_lines_are_skipped_unparsed_with_their_length(tmp_path):
    (tmp_path / "long.smi").write_text("CCO\n" + "C" * 200_000 + "\n" + "C((" * 1000 + "\nCCN\n")
    (tmp_path / "long.csv").write_text("smiles\nCCO\n" + "C" * (MAX_SMILES_CHARS + 1) + "\n")
    result = read_molecules(tmp_path / "long.smi")
    assert result.smiles == ["CCO", "CCN"] and result.skipped_count == 2
    assert "a SMILES of 200,000 characters" in result.skipped[0].reason and result.skipped[0].line == 2
    assert "a SMILES of 3,000 characters" in result.skipped[1].reason and result.skipped[1].line == 3
    csv = read_molecules(tmp_path / "long.csv")
    assert csv.smiles == ["CCO"] and f"{MAX_SMILES_CHARS + 1:,} characters" in csv.skipped[0].reason


def test_training_skips_molecules_over_the_atom_cap(tmp_path):
    (tmp_path / "big.smi").write_text("\n".join([*GOOD, "C" * (MAX_MODEL_ATOMS + 1)]) + "\n")
    task = MoleculeTask(str(tmp_path / "big.smi"), overrides=TINY)
    report = task.data_report
    assert report.count == 1 and "more atoms than the model's maximum" in report.reasons[0]
    assert task.vocab.max_atoms < MAX_MODEL_ATOMS


def test_training_graphs_read_in_worker_processes_match_the_serial_read(monkeypatch):
    from flowstudio.molecules import parsing

    # a list with what GraphAF cannot learn from: a parse failure, a salt, a radical
    texts = [*GOOD, "C1CC", "[Na+].[Cl-]", "[CH3]", *GOOD[::-1]] * 2
    serial = list(parsing.read_graphs(texts, n_jobs=1))
    monkeypatch.setattr(parsing, "SERIAL_BATCHES", 1)
    monkeypatch.setattr(parsing, "BATCH", 4)
    parallel = list(parsing.read_graphs(texts, n_jobs=2))
    assert [text for text, _ in parallel] == texts
    reasons = [read for _, read in serial if isinstance(read, str)]
    assert reasons[:3] == [
        "not a valid molecule", "disconnected molecule (several fragments)", "radical atoms"
    ]
    for (_, a), (_, b) in zip(serial, parallel, strict=True):
        if isinstance(a, str):
            assert a == b
        else:  # the same atoms, bonds and ring sizes, whichever process read them
            assert a[0][0] == b[0][0] and (a[0][1] == b[0][1]).all() and a[1] == b[1]
    benzene = dict(serial)["c1ccccc1"]
    assert not isinstance(benzene, str) and benzene[1] == [6] and len(benzene[0][1]) == 6
