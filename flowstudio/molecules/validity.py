"""Which generated entries are molecules: MOSES's validity (Polykovskiy et al. 2020).

An entry is valid when RDKit parses and sanitizes it into at least one atom; ``None`` (a
failed sample) and empty strings are invalid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rdkit import Chem, rdBase


def parse_valid(text: str | None) -> Chem.Mol | None:
    """The sanitized molecule of ``text``, or ``None`` when it is not a valid molecule."""
    if text is None or not isinstance(text, str) or not text.strip():
        return None
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text.strip())
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def valid_molecules(samples: Sequence[str | None]) -> tuple[list[Chem.Mol], list[str]]:
    """The valid entries as molecules and canonical SMILES, in order, duplicates kept."""
    mols, smiles = [], []
    for text in samples:
        mol = parse_valid(text)
        if mol is not None:
            mols.append(mol)
            smiles.append(Chem.MolToSmiles(mol))
    return mols, smiles


def fraction_valid(samples: Sequence[str | None]) -> float:
    """Valid entries / all entries (``nan`` for an empty list)."""
    if not samples:
        return math.nan
    return sum(parse_valid(s) is not None for s in samples) / len(samples)
