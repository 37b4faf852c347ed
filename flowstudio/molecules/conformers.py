"""3-D conformers: the one embedding the 3-D view and the SDF export share.

ETKDGv3 (Wang et al. 2020, RDKit's distance geometry with experimental torsion and
ring preferences) places the atoms, hydrogens included, from one fixed seed; random
starting coordinates are the fallback for molecules whose distance bounds do not embed.
MMFF94 then relaxes the geometry (UFF where MMFF lacks parameters, e.g. for some metals).
The same molecule and seed always give the same coordinates, so what the window shows is
what an exported SDF file holds.
"""

from __future__ import annotations

from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

CONFORMER_SEED = 0xF00D
"""The seed of every 3-D embedding (ETKDG's ``randomSeed``)."""
RELAX_ITERATIONS = 500
"""Force-field iterations of the relaxation after the embedding."""


def embed_3d(mol: Chem.Mol, seed: int = CONFORMER_SEED) -> Chem.Mol | None:
    """A copy of ``mol`` with explicit hydrogens and one relaxed 3-D conformer, or None
    when RDKit cannot embed it even from random coordinates."""
    with_h = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    with rdBase.BlockLogs():
        if AllChem.EmbedMolecule(with_h, params) != 0:
            params.useRandomCoords = True
            if AllChem.EmbedMolecule(with_h, params) != 0:
                return None
        if AllChem.MMFFHasAllMoleculeParams(with_h):
            AllChem.MMFFOptimizeMolecule(with_h, maxIters=RELAX_ITERATIONS)
        else:
            AllChem.UFFOptimizeMolecule(with_h, maxIters=RELAX_ITERATIONS)
    return with_h
