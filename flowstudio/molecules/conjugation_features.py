"""Bond-order features of GraphAF's bond steps: conjugation in the kekulized partial graph.

With ring features (:mod:`flowstudio.molecules.ring_features`) GraphAF closes five- and
six-membered rings, but their bond orders are often wrong: partly saturated rings
(dihydropyridines, cyclopentadienes, quinoid rings), polyene chains, imines
(``benchmarks/results/graphaf.md``, section 6). MOSES molecules are mostly aromatic
rings, which GraphAF writes in a Kekulé form: each ring atom carries exactly one double
bond, and a ring is closed by a double bond when both its ends still lack one, by a
single bond when they have one. The R-GCN's three hops see neither the double bonds an
atom already has (its valence embedding cannot tell a ``C=C`` carbon from a ``CH2`` with
two single bonds) nor whether the ring a bond would close alternates. A bond step
``(i, j)`` is therefore told:

- ``pi_i``, ``pi_j``: the *pi bonds* each end already has, ``sum(order - 1)`` over its
  bonds (0, 1, 2 and more);
- the *interior* of the ring the bond would close (the atoms other than ``i`` and ``j`` on
  a shortest path between them, ``d(i, u) + d(u, j) = d(i, j)``): how many of them have no
  pi bond, counted apart for atoms with a lone pair to give (neutral N, O, S, Se: the
  ``NH`` of pyrrole, the O of furan) and for the rest (a ``CH2``: the ring cannot be
  aromatic). Closing a benzene ring sees 0 and 0; a cyclopentadiene 1 and 0;
- whether ``i`` and ``j`` already lie in an *aromatic-like* ring: one whose closing bond
  left every atom of it with a pi bond, or a five-membered ring whose only atom without
  one is a lone-pair donor (Hückel's 4n + 2 electrons in the Kekulé forms MOSES holds).

These are plain counts on the partial graph, the same rule in training and generation.
Teacher forcing computes them per molecule from the distance snapshots the ring features
already take (:func:`edge_step_conjugation`, numpy); generation keeps pi counts and
aromatic flags per atom and reads the distances of the ring tracker
(:class:`ConjugationTracker`, torch, batched). The model's embedding index of a step is
:func:`conjugation_index`; the embedding starts at zero, so an untrained model is the
model without it.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from flowstudio.molecules.graph import AtomVocabulary
from flowstudio.molecules.ring_features import FAR, Snapshots, snapshot_rank

PI_LEVELS = 3
"""Pi bonds at an atom, as an embedding level: 0, 1, 2 and more."""
PATH_LEVELS = 7
"""The closed ring's interior: 0 when no ring closes, else 1 + 2 * min(saturated, 2) + (a donor
without a pi bond), see :func:`conjugation_index`."""
CONJUGATION_LEVELS = PI_LEVELS * PI_LEVELS * PATH_LEVELS * 4
"""Embedding indices of :func:`conjugation_index`."""
DONOR_ELEMENTS = ("N", "O", "S", "Se")
"""Neutral atoms that give a lone pair to an aromatic ring when they carry no pi bond."""

Array = TypeVar("Array", np.ndarray, Tensor)


def lone_pair_donors(vocab: AtomVocabulary) -> np.ndarray:
    """For each atom type of ``vocab``: a neutral N, O, S or Se (see :data:`DONOR_ELEMENTS`)."""
    return np.array([s in DONOR_ELEMENTS and c == 0 for s, c in vocab.atoms], dtype=bool)


def conjugation_index(
    pi_i: Array,
    pi_j: Array,
    saturated: Array,
    donors: Array,
    connected: Array,
    aromatic_i: Array,
    aromatic_j: Array,
) -> Array:
    """The embedding index of a bond step (numpy arrays or torch tensors, integers).

    ``saturated``/``donors``: interior atoms of the ring the bond would close without a
    pi bond, other atoms and lone-pair donors; ``connected``: 1 when a ring would close.
    """
    path = connected * (1 + 2 * saturated.clip(max=2) + donors.clip(max=1))
    pair = pi_i.clip(max=PI_LEVELS - 1) * PI_LEVELS + pi_j.clip(max=PI_LEVELS - 1)
    return (pair * PATH_LEVELS + path) * 4 + aromatic_i * 2 + aromatic_j


def aromatic_closure(unsaturated: Array, donors: Array, size: Array) -> Array:
    """Whether a ring closed just now counts as aromatic: no atom of it without a pi bond,
    or a five-membered ring whose only such atom is a lone-pair donor. ``unsaturated``
    counts its atoms without a pi bond after the closing bond, ``donors`` the donors among them."""
    return (unsaturated == 0) | ((size == 5) & (unsaturated == 1) & (donors == 1))


def edge_step_conjugation(
    atoms: np.ndarray,
    bonds: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    donor_types: np.ndarray,
    snapshots: Snapshots,
) -> tuple[np.ndarray, ...]:
    """The arguments of :func:`conjugation_index` at each bond step ``(ei[k], ej[k])``.

    ``bonds`` (E, 3) rows ``(i, j, class)`` in generation order, ``snapshots`` from
    :func:`flowstudio.molecules.ring_features.distance_snapshots` of the same molecule.
    """
    n, e = len(atoms), len(bonds)
    dist = snapshots[0]
    donor = donor_types[atoms]
    pi = np.zeros((e + 1, n), np.int64)
    aromatic = np.zeros((e + 1, n), np.int64)
    for k, (a, b, klass) in enumerate(bonds.tolist()):
        pi[k + 1] = pi[k]
        pi[k + 1, a] += klass - 1
        pi[k + 1, b] += klass - 1
        aromatic[k + 1] = aromatic[k]
        d = dist[k, a, b]
        if d < FAR:
            path = dist[k, a] + dist[k, b] == d
            flat = path & (pi[k + 1] == 0)
            if aromatic_closure(flat.sum(), (flat & donor).sum(), d + 1):
                aromatic[k + 1, path] = 1
    rank = snapshot_rank(n, bonds, ei, ej)
    row_i, row_j = dist[rank, ei], dist[rank, ej]  # (steps, n)
    steps = np.arange(len(ei))
    d_ij = row_i[steps, ej]
    connected = d_ij < FAR
    interior = (row_i + row_j == d_ij[:, None]) & connected[:, None]
    interior[steps, ei] = interior[steps, ej] = False
    flat = interior & (pi[rank] == 0)
    return (
        pi[rank, ei],
        pi[rank, ej],
        (flat & ~donor).sum(1),
        (flat & donor).sum(1),
        connected.astype(np.int64),
        aromatic[rank, ei],
        aromatic[rank, ej],
    )


class ConjugationTracker:
    """Pi bonds and aromatic flags of the atoms of a batch of growing graphs (generation).

    The ring geometry comes from :class:`flowstudio.molecules.ring_features.RingTracker`'s
    ``distance`` (B, N, N); atom types from the batch's ``atoms`` (B, N), -1 where none.
    """

    def __init__(self, batch: int, max_atoms: int, donor_types: np.ndarray, device: torch.device) -> None:
        self.pi = torch.zeros(batch, max_atoms, dtype=torch.long, device=device)
        self.aromatic = torch.zeros(batch, max_atoms, dtype=torch.long, device=device)
        self.donor_types = torch.from_numpy(donor_types).to(device)

    def _flat(self, molecules: Tensor, atoms: Tensor, within: Tensor) -> tuple[Tensor, Tensor]:
        """Atoms of ``within`` (m, N) without a pi bond: ``(others, donors)`` counted per molecule."""
        flat = within & (self.pi[molecules] == 0)
        donor = self.donor_types[atoms[molecules].clamp(min=0)]
        return (flat & ~donor).sum(1), (flat & donor).sum(1)

    def index(self, molecules: Tensor, i: int, j: int, distance: Tensor, atoms: Tensor) -> Tensor:
        """:func:`conjugation_index` of the bond step ``(i, j)`` of ``molecules`` (indices)."""
        row_i, row_j = distance[molecules, i], distance[molecules, j]  # distances are symmetric
        d = row_i[:, j]
        connected = d < FAR
        interior = (row_i + row_j == d.unsqueeze(1)) & connected.unsqueeze(1)
        interior[:, i] = False
        interior[:, j] = False
        saturated, donors = self._flat(molecules, atoms, interior)
        pi, aromatic = self.pi[molecules], self.aromatic[molecules]
        return conjugation_index(
            pi[:, i], pi[:, j], saturated, donors, connected.long(), aromatic[:, i], aromatic[:, j]
        )

    def add_bonds(
        self, molecules: Tensor, i: int, j: int, klass: Tensor, distance: Tensor, atoms: Tensor
    ) -> None:
        """Record bonds ``i - j`` of ``klass`` (1..3) in ``molecules``; ``distance`` from
        *before* the bonds (the ring a bond closes is a shortest path then)."""
        self.pi[molecules, i] += klass - 1
        self.pi[molecules, j] += klass - 1
        d = distance[molecules, i, j]
        closing = d < FAR
        if not bool(closing.any()):
            return
        rings, d = molecules[closing], d[closing]
        path = distance[rings, i] + distance[rings, j] == d.unsqueeze(1)
        others, donors = self._flat(rings, atoms, path)
        aromatic = aromatic_closure(others + donors, donors, d + 1)
        self.aromatic[rings] |= (path & aromatic.unsqueeze(1)).long()
