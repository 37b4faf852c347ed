"""The window's Export offers SDF with 3-D conformers beside 2-D (the README promises both)."""

from __future__ import annotations

from pathlib import Path

from rdkit import Chem

from flowstudio.workbench.molecules import SDF_3D, MoleculesKind


def z_span(path: Path) -> float:
    mol = next(iter(Chem.SDMolSupplier(str(path), removeHs=False)))
    zs = [mol.GetConformer().GetAtomPosition(i).z for i in range(mol.GetNumAtoms())]
    return max(zs) - min(zs)


def test_the_3d_filter_writes_3d_coordinates(tmp_path: Path) -> None:
    kind = MoleculesKind()
    filters = kind.save_filters()
    assert filters[1].startswith(SDF_3D) and filters[0].startswith("SDF with 2-D")
    flat = kind.export(tmp_path / "flat.sdf", ["CC(C)Cc1ccc(C)cc1"]).path
    deep = kind.export(tmp_path / "deep.sdf", ["CC(C)Cc1ccc(C)cc1"], three_d=True).path
    assert z_span(flat) == 0.0
    assert z_span(deep) > 0.5  # an isobutyl group leaves the ring's plane
