"""MOSES's fragment and scaffold similarity (Polykovskiy et al. 2020).

- ``Frag``: cosine similarity of the BRICS fragment count vectors of two sets; each
  molecule is cut at its BRICS bonds (Degen et al. 2008, ``FragmentOnBRICSBonds``) and
  every fragment occurrence is counted, keyed by its canonical SMILES with the dummy
  attachment atoms.
- ``Scaf``: cosine similarity of the Bemis–Murcko scaffold count vectors (Bemis & Murcko
  1996: the ring systems and the linkers between them); as in MOSES, only scaffolds with at
  least two rings are counted.

``cos(a, b) = a . b / (|a| |b|)`` over the union of the keys: 1 when the two sets use
fragments (scaffolds) in the same proportions, 0 when they share none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold


def brics_fragments(mols: Sequence[Chem.Mol]) -> Counter:
    """Counts of BRICS fragments (canonical SMILES with their dummy attachment atoms)."""
    counts: Counter = Counter()
    for mol in mols:
        counts.update(Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split("."))
    return counts


def murcko_scaffolds(mols: Sequence[Chem.Mol], min_rings: int = 2) -> Counter:
    """Counts of Bemis–Murcko scaffolds with at least ``min_rings`` rings (MOSES's choice)."""
    counts: Counter = Counter()
    for mol in mols:
        try:
            scaffold = MurckoScaffold.GetScaffoldForMol(mol)
        except Exception:  # RDKit fails on a few exotic ring systems; MOSES skips them too
            continue
        text = Chem.MolToSmiles(scaffold)
        if text and scaffold.GetRingInfo().NumRings() >= min_rings:
            counts[text] += 1
    return counts


def cosine_similarity(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors keyed by name (missing keys count 0)."""
    if not a or not b:
        return math.nan
    keys = sorted(set(a) | set(b))
    va = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    vb = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
