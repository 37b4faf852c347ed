"""Exports carry where they came from (run, model, step, temperature, seed), read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flowstudio.workbench.molecules import MoleculesKind
from flowstudio.workbench.points import PointsKind
from flowstudio.workbench.provenance import Provenance, read_provenance

ORIGIN = Provenance("points-pointflow-20261206-101010", "pointflow", 1500, 0.8, 1234)


def test_ply_exports_carry_and_show_their_provenance(tmp_path: Path) -> None:
    clouds = np.random.default_rng(0).normal(size=(2, 100, 3)).astype(np.float32)
    kind = PointsKind()
    first = kind.export(tmp_path / "s.ply", clouds, ORIGIN).path  # one file per shape
    assert read_provenance(first) == ORIGIN
    info = kind.read_data(first)
    assert (
        dict(info.rows)["From"]
        == "run points-pointflow-20261206-101010 · model pointflow · step 1,500 · T = 0.8 · seed 1234"
    )
    plain = kind.export(tmp_path / "plain.ply", clouds[:1]).path
    assert read_provenance(plain) is None and "From" not in dict(kind.read_data(plain).rows)


def test_sdf_exports_carry_their_provenance_on_every_molecule(tmp_path: Path) -> None:
    from rdkit import Chem

    origin = Provenance("molecules-graphaf", "graphaf", 320, 0.75, None, bond_temperature=0.5)
    kind = MoleculesKind()
    path = kind.export(tmp_path / "m.sdf", ["CCO", "c1ccccc1"], provenance=origin).path
    assert read_provenance(path) == origin
    mols = list(Chem.SDMolSupplier(str(path)))
    assert all(m.GetProp("flowstudio.step") == "320" for m in mols)
    assert dict(kind.read_data(path).rows)["From"] == (
        "run molecules-graphaf · model graphaf · step 320 · T = 0.75 (bonds 0.5)"
    )
