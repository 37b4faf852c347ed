"""The 3-D view and the 3-D SDF export of one molecule show the same conformer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit import Chem

from flowstudio.workbench.molecules import MoleculesKind, conformer


def test_the_3d_view_and_the_3d_sdf_export_match(tmp_path: Path) -> None:
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "C1CCNCC1"]
    exported = MoleculesKind().export(tmp_path / "m.sdf", smiles, three_d=True).path
    written = [m for m in Chem.SDMolSupplier(str(exported), removeHs=False)]
    assert len(written) == len(smiles)
    for text, mol in zip(smiles, written, strict=True):
        elements, coords, bonds = conformer(text)
        assert mol.GetConformer().Is3D() and mol.GetProp("conformer").startswith("3D")
        assert elements == [a.GetSymbol() for a in mol.GetAtoms()]  # hydrogens included
        assert len(bonds) == mol.GetNumBonds()
        np.testing.assert_allclose(coords, mol.GetConformer().GetPositions(), atol=1e-3)
    # the embedding is repeatable: a second call gives the same coordinates
    np.testing.assert_array_equal(conformer(smiles[0])[1], conformer(smiles[0])[1])
