"""Molecule files: round trips through every format and a clear reason for each bad input."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import PROPERTY_NAMES
from flowstudio.molecules.io import (
    open_dialog_filters,
    read_molecules,
    save_dialog_filters,
    sniff_format,
    write_molecules,
)
from flowstudio.molecules.samples import builtin_molecule_sets, default_molecule_set

MOLECULES = ["CCO", "Oc1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "O=C1CCCN1"]
NAMES = ["ethanol", "phenol", "aspirin", "L-alanine", "pyrrolidone"]


@pytest.mark.parametrize(
    "name", ["m.smi", "m.txt", "m.csv", "m.tsv", "m.sdf", "m.smi.gz", "m.csv.gz", "m.sdf.gz"]
)
def test_round_trip_through_every_format(tmp_path: Path, name: str) -> None:
    path = write_molecules(tmp_path / name, MOLECULES, names=NAMES, comments=["made by a test"])
    back = read_molecules(path)
    assert back.smiles == MOLECULES  # canonical already, and stereo survives
    assert back.names == NAMES
    assert back.skipped_count == 0
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away


def test_csv_holds_the_properties_and_extra_columns(tmp_path: Path) -> None:
    path = write_molecules(tmp_path / "m.csv", MOLECULES, extra_columns={"log_likelihood": [-1.5] * 5})
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header == ["smiles", *PROPERTY_NAMES, "log_likelihood"]
    aspirin = dict(zip(header, lines[3].split(","), strict=True))
    assert float(aspirin["MW"]) == pytest.approx(180.159, abs=1e-3)
    assert int(aspirin["heavy_atoms"]) == 13
    assert float(aspirin["log_likelihood"]) == -1.5


def test_sdf_2d_and_3d_coordinates(tmp_path: Path) -> None:
    flat = write_molecules(tmp_path / "flat.sdf", MOLECULES[:3], names=NAMES[:3])
    mols = [m for m in Chem.SDMolSupplier(str(flat))]
    assert all(not m.GetConformer().Is3D() for m in mols)
    assert mols[2].GetProp("_Name") == "aspirin"
    assert float(mols[2].GetProp("QED")) == pytest.approx(0.55, abs=0.01)

    solid = write_molecules(tmp_path / "solid.sdf", MOLECULES[:3], conformers_3d=True)
    mols = [m for m in Chem.SDMolSupplier(str(solid), removeHs=False)]
    ethanol = mols[0]
    assert ethanol.GetConformer().Is3D() and ethanol.GetNumAtoms() == 9  # hydrogens kept
    pos = ethanol.GetConformer().GetPositions()
    assert 1.4 < np.linalg.norm(pos[0] - pos[1]) < 1.6  # a relaxed C-C bond, in Å
    assert read_molecules(solid).smiles == MOLECULES[:3]


def test_smiles_file_with_comments_header_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "mixed.smi"
    lines = ["# my molecules", "SMILES name", "", "OCC ethanol, absolute", "CXC broken"]
    lines += ["C[Se]C\tselenide", "C1CC ring", "N,ammonia"]
    path.write_text("\n".join(lines) + "\n")
    result = read_molecules(path)
    assert result.smiles == ["CCO", "C[Se]C", "N"]
    assert result.names == ["ethanol, absolute", "selenide", "ammonia"]
    assert result.skipped_count == 2
    assert [s.line for s in result.skipped] == [5, 7]
    assert "syntax error" in result.skipped[0].reason and "unclosed ring" in result.skipped[1].reason


def test_the_size_filter_skips_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "v.smi"
    path.write_text("CCO\nC[Se]C\nC[N+](C)(C)C\n" + "C" * 41 + "\n")
    result = read_molecules(path, max_atoms=38)
    assert result.smiles == ["CCO", "C[Se]C", "C[N+](C)(C)C"]
    assert [s.reason for s in result.skipped] == ["more atoms than the model's maximum (41 > 38)"]
    assert read_molecules(path, max_atoms=5).smiles == ["CCO", "C[Se]C", "C[N+](C)(C)C"]
    assert read_molecules(path).smiles == ["CCO", "C[Se]C", "C[N+](C)(C)C", "C" * 41]


def test_limit_stops_early(tmp_path: Path) -> None:
    path = write_molecules(tmp_path / "m.smi", MOLECULES)
    assert len(read_molecules(path, limit=2)) == 2


def test_csv_column_found_by_name_or_by_sniffing(tmp_path: Path) -> None:
    named = tmp_path / "named.csv"
    named.write_text("id;score;Canonical_SMILES\nA;1.0;OCC\nB;2.0;c1ccccc1\n")
    result = read_molecules(named)
    assert result.smiles == ["CCO", "c1ccccc1"] and result.names == ["A", "B"]

    headerless = tmp_path / "headerless.csv"
    headerless.write_text("1,OCC,x\n2,c1ccccc1,y\n3,CCN,z\n")
    assert read_molecules(headerless).smiles == ["CCO", "c1ccccc1", "CCN"]

    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("mol_id,structure\nA,OCC\nB,CCN\n")
    result = read_molecules(unnamed)
    assert result.smiles == ["CCO", "CCN"] and result.names == ["A", "B"]

    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(b"SMILES\nOCC\nCCN\n"))
    assert read_molecules(gz).smiles == ["CCO", "CCN"]


def test_sdf_bad_record_is_skipped(tmp_path: Path) -> None:
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    bad = good.replace("  3  2  0", "  3  9  0")  # claims more bonds than it holds
    (tmp_path / "b.sdf").write_text(good + "$$$$\n" + bad + "$$$$\n" + good + "$$$$\n")
    result = read_molecules(tmp_path / "b.sdf")
    assert result.smiles == ["CCO", "CCO"]
    assert result.skipped_count == 1 and result.skipped[0].line == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file holds no molecules"),
        ("# only a comment\n\n", "the file holds no molecules"),
        (
            "CXC\nC1CC\nhello world\n",
            "no valid molecule in bad.smi (3 skipped): first reasons: line 1: SMILES",
        ),
        (b"\x00\x01\x02garbage\xff", "is a binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a binary file"),
    ],
)
def test_files_without_a_valid_molecule_are_refused(tmp_path: Path, content, expected: str) -> None:
    path = tmp_path / "bad.smi"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BadInputError, match=re.escape(expected)):
        read_molecules(path)


def test_all_invalid_samples_can_be_read_when_asked(tmp_path: Path) -> None:
    path = write_molecules(tmp_path / "s.smi", [None, "C1CC"])
    result = read_molecules(path, require_valid=False)
    assert result.smiles == [] and result.skipped_count == 2


def test_csv_without_a_smiles_column(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1.5,2\n3.5,4\n")
    with pytest.raises(BadInputError, match=re.escape("no SMILES column in numbers.csv")):
        read_molecules(path)


def test_missing_file_folder_and_unknown_output(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        read_molecules(tmp_path / "nope.smi")
    with pytest.raises(BadInputError, match="is a folder"):
        read_molecules(tmp_path)
    with pytest.raises(BadInputError, match="unknown extension"):
        write_molecules(tmp_path / "m.xyz", MOLECULES)
    with pytest.raises(BadInputError, match="cannot write 1 invalid molecules to SDF"):
        write_molecules(tmp_path / "m.sdf", ["CCO", None])
    assert not (tmp_path / "m.sdf").exists()


def test_sniffing_without_a_known_extension(tmp_path: Path) -> None:
    sdf = write_molecules(tmp_path / "m.sdf", MOLECULES)
    renamed = sdf.rename(tmp_path / "m.dat")
    assert sniff_format(renamed).name == "sdf"
    assert read_molecules(renamed).smiles == MOLECULES
    csv_like = tmp_path / "list.txt"
    csv_like.write_text("name,smiles\nethanol,OCC\n")
    assert sniff_format(csv_like).name == "csv"
    assert read_molecules(csv_like).names == ["ethanol"]


def test_dialog_filters_cover_every_format() -> None:
    opened = open_dialog_filters()
    assert opened[0].startswith("Molecule files (") and opened[-1] == "All files (*)"
    assert all(pat in opened[0] for pat in ("*.smi", "*.csv", "*.sdf", "*.csv.gz"))
    saved = save_dialog_filters()
    assert [f.split(" (")[0] for f in saved] == ["SDF with 2-D coordinates", "SMILES", "CSV with properties"]


def test_builtin_sample_set_reads_cleanly() -> None:
    sample = default_molecule_set()
    assert sample is not None and sample in builtin_molecule_sets()
    assert sample.license_path.is_file() and "MIT License" in sample.license_path.read_text()
    assert "Polykovskiy" in sample.license_path.read_text()
    result = read_molecules(sample.path, limit=500)
    assert len(result) == 500 and result.skipped_count == 0
    with sample.path.open() as fh:
        assert sum(1 for _ in fh) == 20_000


def test_worker_processes_keep_file_order_skips_and_limit(tmp_path: Path, monkeypatch) -> None:
    from flowstudio.molecules import parsing

    monkeypatch.setattr(parsing, "SERIAL_BATCHES", 1)
    monkeypatch.setattr(parsing, "BATCH", 3)
    lines = [s if i % 4 else "C1CC" for i, s in enumerate(MOLECULES * 4)]
    path = tmp_path / "many.smi"
    path.write_text("\n".join(lines) + "\n")
    serial = read_molecules(path, n_jobs=1)
    parallel = read_molecules(path, n_jobs=2)
    assert parallel.smiles == serial.smiles and parallel.skipped == serial.skipped
    assert serial.skipped_count == 5 and [s.line for s in serial.skipped] == [1, 5, 9, 13, 17]
    assert read_molecules(path, n_jobs=2, limit=7).smiles == serial.smiles[:7]
