"""Open-chain feature of GraphAF's atom steps: double bonds a ring has yet to take in.

GraphAF writes aromatic rings in a Kekulé form, one bond at a time, so half-built rings
are chains of alternating double bonds (``C=CC=C``). A sampled molecule that ends, or
grows elsewhere, before the ring closes keeps them: in 1,000 samples of session 11's
quick model, 12% of the molecules carried a C=C double bond outside any ring and 6% a C=N,
against 1.4% and 0.2% of MOSES molecules (``benchmarks/results/graphaf.md``, section 13);
such chains are most of what fails the medicinal-chemistry filters (Michael acceptors,
hydrazones, imines). The atom step, which decides END and the next atom's type, sees the
graph only through sum-pooled R-GCN embeddings, which cannot tell a double bond in a
closed ring from one in an open chain (ring membership is not local).

So each atom step (and the END step) is told the number of **open double bonds** in the
partial graph: double bonds between two atoms of :data:`CHAIN_ELEMENTS` whose ends are not
both on a closed ring, as 0, 1, 2 or 3 and more (:func:`chain_index`). A complete MOSES
molecule nearly always has none; a half-built benzene ring has one or two. The ring flags
are :mod:`flowstudio.molecules.ring_features`' (an atom is on a ring once a closing bond's
shortest path runs through it), the same rule in training (:func:`node_step_chains`,
numpy, per molecule) and generation (:class:`ChainTracker`, torch, batched). The model's
embedding starts at zero, so an untrained model is the model without it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from flowstudio.molecules.graph import AtomVocabulary
from flowstudio.molecules.ring_features import Snapshots

CHAIN_ELEMENTS = ("C", "N")
"""Elements whose double bonds count: C=C, C=N and N=N (not C=O or S=O, which end chains)."""
CHAIN_LEVELS = 4
"""Embedding indices of :func:`chain_index`: 0, 1, 2, 3 and more open double bonds."""
DOUBLE = 2
"""The bond class of a double bond (1..3: single..triple)."""


def chain_types(vocab: AtomVocabulary) -> np.ndarray:
    """For each atom type of ``vocab``: its element is one of :data:`CHAIN_ELEMENTS`."""
    return np.array([symbol in CHAIN_ELEMENTS for symbol, _charge in vocab.atoms], dtype=bool)


def chain_index(count: Tensor) -> Tensor:
    """The embedding index of a count of open double bonds."""
    return count.clamp(max=CHAIN_LEVELS - 1)


def node_step_chains(
    atoms: np.ndarray, bonds: np.ndarray, chain_mask: np.ndarray, snapshots: Snapshots
) -> np.ndarray:
    """The open double bonds before each node step ``k = 0..n`` of one molecule (step ``n``
    is END), when atoms ``0..k-1`` are there with all their bonds.

    ``bonds`` (E, 3) rows ``(i, j, class)`` in generation order (``i > j``, sorted by
    ``i``), ``snapshots`` from :func:`flowstudio.molecules.ring_features.distance_snapshots`
    (its ring flags after each number of bonds), ``chain_mask`` from :func:`chain_types`.
    """
    n = len(atoms)
    _dist, ring = snapshots
    decided = np.searchsorted(bonds[:, 0], np.arange(n + 1), side="left")  # bonds before step k
    chain_atom = chain_mask[atoms]
    double = (bonds[:, 2] == DOUBLE) & chain_atom[bonds[:, 0]] & chain_atom[bonds[:, 1]]
    counts = np.zeros(n + 1, np.int64)
    rows = np.flatnonzero(double)
    if rows.size == 0:
        return counts
    flags = ring[decided]  # (n + 1, n): ring flags at each node step
    closed = flags[:, bonds[rows, 0]] & flags[:, bonds[rows, 1]]  # (n + 1, doubles)
    present = rows[None, :] < decided[:, None]
    return (present & (closed == 0)).sum(axis=1).astype(np.int64)


class ChainTracker:
    """The double bonds between chain atoms of a batch of growing graphs (generation);
    counted open against the ring flags of :class:`~flowstudio.molecules.ring_features.RingTracker`."""

    def __init__(self, batch: int, max_atoms: int, chain_mask: np.ndarray, device: torch.device) -> None:
        self.double = torch.zeros(batch, max_atoms, max_atoms, dtype=torch.bool, device=device)
        self.chain_types = torch.from_numpy(chain_mask).to(device)

    def add_bonds(self, molecules: Tensor, i: int, j: int, klass: Tensor, atoms: Tensor) -> None:
        """Record bonds ``i - j`` of ``klass`` (1..3) in ``molecules`` (indices)."""
        types = atoms[molecules]
        chain = self.chain_types[types[:, i].clamp(min=0)] & self.chain_types[types[:, j].clamp(min=0)]
        keep = molecules[(klass == DOUBLE) & chain]
        self.double[keep, i, j] = True

    def count(self, molecules: Tensor, in_ring: Tensor) -> Tensor:
        """Open double bonds of ``molecules``: not both ends on a ring (``in_ring`` (B, N))."""
        ring = in_ring[molecules].bool()
        closed = ring.unsqueeze(2) & ring.unsqueeze(1)
        return (self.double[molecules] & ~closed).sum(dim=(1, 2))
