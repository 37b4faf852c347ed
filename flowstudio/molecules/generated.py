"""What a GraphAF generation returns: the graphs, the molecules, how each ended, and how
many were drawn again for each reason (:func:`flowstudio.molecules.generate.generate`).

Kept apart from the generation loop so that decoding (:mod:`flowstudio.molecules.latent`)
and optimization can name the result without the sampler's internals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem

from flowstudio.molecules.graph import AtomVocabulary, OrderedGraph, ring_states, typed_states
from flowstudio.molecules.redraws import REDRAW_REASONS, RedrawReason
from flowstudio.molecules.rings import has_unseen_ring_system, ring_system_kinds

__all__ = ["Generated", "hydrogen_on_hypervalent", "ring_types_disagree", "unseen_ring_system"]


@dataclass
class Generated:
    """Generated molecules, in the order they were drawn.

    ``atoms[k]`` (n_k,) and ``bonds[k]`` (e_k, 3) are the graph in generation order;
    ``mols[k]``/``smiles[k]`` are ``None`` when RDKit refuses the graph; ``resampled[k]``
    tells whether the valency check had to redraw a bond of molecule ``k``; ``ended[k]``
    how it ended: :data:`END_TOKEN` (also at ``max_atoms``, when the model chose to end
    there), :data:`END_NO_BOND` (a new atom got no bond) or :data:`END_MAX_ATOMS` (cut at
    the size cap). ``redrawn[reason]`` counts the molecules drawn again for each
    :class:`~flowstudio.molecules.redraws.RedrawReason`, and ``redraws_on`` holds the
    reasons that were on for this generation (the run's settings, and the checks): one that
    was off drew nothing, and :meth:`redrawn_shares` leaves it out. ``edge_temperature`` is
    the temperature the bond steps were drawn at (``None`` where no prior was sampled, as
    in decoding), so callers report the value used instead of working it out again.
    """

    atoms: list[np.ndarray]
    bonds: list[np.ndarray]
    mols: list[Chem.Mol | None]
    smiles: list[str | None]
    resampled: np.ndarray
    ended: np.ndarray
    redrawn: dict[RedrawReason, int] = field(default_factory=lambda: dict.fromkeys(REDRAW_REASONS, 0))
    redraws_on: frozenset[RedrawReason] = frozenset()
    edge_temperature: float | None = None

    @property
    def validity(self) -> float:
        return float(np.mean([m is not None for m in self.mols])) if self.mols else 0.0

    @property
    def validity_without_check(self) -> float:
        """Valid molecules that needed no redraw (the paper's "validity w/o check")."""
        if not self.mols:
            return 0.0
        ok = [m is not None and not r for m, r in zip(self.mols, self.resampled, strict=True)]
        return float(np.mean(ok))

    def redrawn_share(self, reason: RedrawReason) -> float:
        """Molecules drawn again for ``reason``, per molecule returned (0 when it was off)."""
        return self.redrawn.get(reason, 0) / max(1, len(self.ended))

    def redrawn_shares(self) -> dict[RedrawReason, float]:
        """The share of each reason that was on (:meth:`redrawn_share`), in the order of
        :data:`~flowstudio.molecules.redraws.REDRAW_REASONS`."""
        return {reason: self.redrawn_share(reason) for reason in REDRAW_REASONS if reason in self.redraws_on}

    @staticmethod
    def concatenate(parts: list[Generated]) -> Generated:
        """The parts' molecules in order; their redraw counts add up, and a reason on in
        any part is on for the whole."""
        return Generated(
            atoms=[a for p in parts for a in p.atoms],
            bonds=[b for p in parts for b in p.bonds],
            mols=[m for p in parts for m in p.mols],
            smiles=[s for p in parts for s in p.smiles],
            resampled=np.concatenate([p.resampled for p in parts]) if parts else np.zeros(0, bool),
            ended=np.concatenate([p.ended for p in parts]) if parts else np.zeros(0, np.int64),
            redrawn={reason: sum(p.redrawn.get(reason, 0) for p in parts) for reason in REDRAW_REASONS},
            redraws_on=frozenset().union(*(p.redraws_on for p in parts)),
        )

    def ordered_graph(self, k: int) -> OrderedGraph:
        """Molecule ``k``'s graph in the order it was generated (bonds sorted by ``(i, j)``, as
        teacher forcing packs them): the states the sampler went through."""
        bonds = np.asarray(self.bonds[k], np.int64).reshape(-1, 3)
        return OrderedGraph(np.asarray(self.atoms[k]), bonds[np.lexsort((bonds[:, 1], bonds[:, 0]))])

    def select(self, keep: np.ndarray) -> Generated:
        """The molecules where ``keep`` (a boolean mask) is true, in order, with the redraw
        counts and reasons of the whole generation."""
        index = np.flatnonzero(keep)
        return Generated(
            atoms=[self.atoms[k] for k in index],
            bonds=[self.bonds[k] for k in index],
            mols=[self.mols[k] for k in index],
            smiles=[self.smiles[k] for k in index],
            resampled=self.resampled[index],
            ended=self.ended[index],
            redrawn=dict(self.redrawn),
            redraws_on=self.redraws_on,
        )


def _judged(
    generated: Generated, among: np.ndarray | None, test: Callable[[int, Chem.Mol], bool]
) -> np.ndarray:
    """(n,) bool: ``test(k, mol)`` for each valid molecule ``k`` where ``among`` (an (n,)
    bool mask, default all) is true, so that the RDKit work is limited to the molecules
    worth judging; false for the others and for invalid ones."""
    out = np.zeros(len(generated.mols), bool)
    for k in range(len(generated.mols)) if among is None else np.flatnonzero(among):
        mol = generated.mols[k]
        out[k] = mol is not None and test(k, mol)
    return out


def ring_types_disagree(
    generated: Generated, vocab: AtomVocabulary, among: np.ndarray | None = None
) -> np.ndarray:
    """(n,) bool: the molecules whose ring types (:attr:`AtomVocabulary.on_ring`) say an
    atom sits on a ring where it does not, or the reverse, or (aromatic types) on an
    aromatic ring where its ring is not aromatic, or the reverse; all false without ring
    types. ``among``: see :func:`_judged` (the others are already found to agree, or drawn
    again for another reason)."""
    if not vocab.ring_types:
        return np.zeros(len(generated.mols), bool)
    typed = np.asarray(vocab.on_ring)

    def disagree(k: int, mol: Chem.Mol) -> bool:  # graph_to_mol keeps the atoms in order, one for one
        return bool((typed[generated.atoms[k]] != typed_states(ring_states(mol), vocab.aromatic)).any())

    return _judged(generated, among, disagree)


def _hypervalent_with_hydrogen(mol: Chem.Mol) -> bool:
    """Whether a neutral atom of ``mol`` is above its element's lowest valence and carries a
    hydrogen: a λ4-sulfane ``[SH]`` with three single bonds, say, which RDKit accepts
    because sulfoxides need sulfur's valence 4, and which no chemist would draw."""
    table = Chem.GetPeriodicTable()
    for atom in mol.GetAtoms():
        if atom.GetFormalCharge() or not atom.GetTotalNumHs():
            continue
        lowest = min((v for v in table.GetValenceList(atom.GetAtomicNum()) if v > 0), default=0)
        if lowest and atom.GetTotalValence() > lowest:
            return True
    return False


def hydrogen_on_hypervalent(generated: Generated, among: np.ndarray | None = None) -> np.ndarray:
    """(n,) bool: the molecules with a hydrogen on a hypervalent atom (see
    :func:`_hypervalent_with_hydrogen`); ``among``: see :func:`_judged`."""
    return _judged(generated, among, lambda _, mol: _hypervalent_with_hydrogen(mol))


def unseen_ring_system(
    generated: Generated, known: frozenset[str] | None, among: np.ndarray | None = None
) -> np.ndarray:
    """(n,) bool: the molecules with a ring system whose kind is not in ``known`` (the
    training molecules', :func:`~flowstudio.molecules.rings.ring_system_kinds`); all false
    when ``known`` is ``None``. ``among``: see :func:`_judged`."""
    if known is None:
        return np.zeros(len(generated.mols), bool)
    return _judged(generated, among, lambda _, mol: has_unseen_ring_system(ring_system_kinds(mol), known))
