"""What a GraphAF generation returns: the graphs, the molecules, how each ended, and how
many were drawn again (:func:`flowstudio.molecules.generate.generate`).

Kept apart from the generation loop so that decoding (:mod:`flowstudio.molecules.latent`)
and optimization can name the result without the sampler's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from flowstudio.molecules.graph import AtomVocabulary

__all__ = ["Generated", "ring_types_disagree"]


@dataclass
class Generated:
    """Generated molecules, in the order they were drawn.

    ``atoms[k]`` (n_k,) and ``bonds[k]`` (e_k, 3) are the graph in generation order;
    ``mols[k]``/``smiles[k]`` are ``None`` when RDKit refuses the graph; ``resampled[k]``
    tells whether the valency check had to redraw a bond of molecule ``k``; ``ended[k]``
    how it ended: :data:`END_TOKEN` (also at ``max_atoms``, when the model chose to end
    there), :data:`END_NO_BOND` (a new atom got no bond) or :data:`END_MAX_ATOMS` (cut at
    the size cap). ``cut_redrawn`` counts the cut molecules that were drawn again,
    ``bondless_redrawn`` those ended by a bondless atom and drawn again, and ``ring_redrawn``
    those drawn again because their ring types disagreed with their rings.
    """

    atoms: list[np.ndarray]
    bonds: list[np.ndarray]
    mols: list[Chem.Mol | None]
    smiles: list[str | None]
    resampled: np.ndarray
    ended: np.ndarray
    cut_redrawn: int = 0
    ring_redrawn: int = 0
    bondless_redrawn: int = 0

    @property
    def validity(self) -> float:
        return float(np.mean([m is not None for m in self.mols])) if self.mols else 0.0

    @property
    def cut_redrawn_share(self) -> float:
        """Molecules cut at the size cap and drawn again, per molecule returned."""
        return self.cut_redrawn / max(1, len(self.ended))

    @property
    def bondless_redrawn_share(self) -> float:
        """Molecules ended by a bondless atom and drawn again, per molecule returned."""
        return self.bondless_redrawn / max(1, len(self.ended))

    @property
    def ring_redrawn_share(self) -> float:
        """Molecules drawn again for ring types that disagreed with their rings, per molecule."""
        return self.ring_redrawn / max(1, len(self.ended))

    @property
    def validity_without_check(self) -> float:
        """Valid molecules that needed no redraw (the paper's "validity w/o check")."""
        if not self.mols:
            return 0.0
        ok = [m is not None and not r for m, r in zip(self.mols, self.resampled, strict=True)]
        return float(np.mean(ok))

    @staticmethod
    def concatenate(parts: list[Generated]) -> Generated:
        return Generated(
            atoms=[a for p in parts for a in p.atoms],
            bonds=[b for p in parts for b in p.bonds],
            mols=[m for p in parts for m in p.mols],
            smiles=[s for p in parts for s in p.smiles],
            resampled=np.concatenate([p.resampled for p in parts]) if parts else np.zeros(0, bool),
            ended=np.concatenate([p.ended for p in parts]) if parts else np.zeros(0, np.int64),
            cut_redrawn=sum(p.cut_redrawn for p in parts),
            ring_redrawn=sum(p.ring_redrawn for p in parts),
            bondless_redrawn=sum(p.bondless_redrawn for p in parts),
        )

    def select(self, keep: np.ndarray) -> Generated:
        """The molecules where ``keep`` (a boolean mask) is true, in order."""
        index = np.flatnonzero(keep)
        return Generated(
            atoms=[self.atoms[k] for k in index],
            bonds=[self.bonds[k] for k in index],
            mols=[self.mols[k] for k in index],
            smiles=[self.smiles[k] for k in index],
            resampled=self.resampled[index],
            ended=self.ended[index],
            cut_redrawn=self.cut_redrawn,
            ring_redrawn=self.ring_redrawn,
            bondless_redrawn=self.bondless_redrawn,
        )


def ring_types_disagree(generated: Generated, vocab: AtomVocabulary, start: int = 0) -> np.ndarray:
    """(n,) bool: the molecules whose ring types (:attr:`AtomVocabulary.on_ring`) say an
    atom sits on a ring where it does not, or the reverse; all false without ring types.
    Molecules before ``start`` are not looked at (false): ones already found to agree."""
    out = np.zeros(len(generated.mols), bool)
    if not vocab.ring_types:
        return out
    on_ring = np.asarray(vocab.on_ring)
    for k in range(start, len(generated.mols)):
        atoms, mol = generated.atoms[k], generated.mols[k]
        if mol is not None:
            info = mol.GetRingInfo()
            in_ring = np.fromiter((info.NumAtomRings(i) > 0 for i in range(len(atoms))), bool, len(atoms))
            out[k] = bool((on_ring[atoms] != in_ring).any())
    return out
