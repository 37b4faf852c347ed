"""Which workspace a file opens in, from the readers' registries and a look at .txt files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from flowstudio.workbench.routing import file_kind


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("model.pt", "", "checkpoint"),
        ("model.CKPT", "", "checkpoint"),
        ("shot.PNG", "", "image"),
        ("mols.smi", "CCO\n", "molecules"),
        ("mols.csv", "smiles\nCCO\n", "molecules"),
        ("mols.sdf", "", "molecules"),
        ("chair.ply", "", "points"),
        ("chair.xyz", "0 0 0\n", "points"),
        ("cloud.txt", "\n 0.1, 0.2, 0.3\n1 2 3\n", "points"),
        ("mols.txt", "CCO ethanol\n", "molecules"),
        ("empty.txt", "", "molecules"),
        ("unknown.foo", "", "points"),
    ],
)
def test_files_go_to_their_workspace(tmp_path: Path, name: str, text: str, kind: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert file_kind(path) == kind


def test_folders_and_compressed_files(tmp_path: Path) -> None:
    assert file_kind(tmp_path) == "points"
    smi = tmp_path / "mols.smi.gz"
    with gzip.open(smi, "wt") as fh:
        fh.write("CCO\n")
    assert file_kind(smi) == "molecules"
