"""Ring features of GraphAF's bond steps: how large a ring a bond would close.

GraphAF adds one bond at a time, and its R-GCN sees only three hops of the partial graph:
a bond step between the new atom ``i`` and an earlier atom ``j`` cannot tell whether the
bond closes a benzene ring, a cyclopropane or a 14-membered macrocycle. Three facts tell it:

- ``d(i, j)``, the shortest-path distance between ``i`` and ``j`` in the partial graph: a
  bond between them closes a ring of ``d + 1`` atoms (the smallest ring through the new
  bond), or none when they are not connected;
- whether ``i`` and ``j`` already lie in a ring (fused and spiro systems);
- whether the ring would *touch* a ring already there: an atom on a shortest ``i``-``j``
  path lies in a ring, so the molecule would gain a fused, spiro or bridged system. In
  breadth-first order a fused ring mostly closes between two atoms that are in no ring yet
  (an indole's C2 and C3: C2 hangs off the benzene ring's C7a through N1, C3 off C3a), so
  the two flags above do not say it (``benchmarks/results/graphaf.md``, section 19; the
  model sees this flag with its ``fusing_feature`` setting).

An atom counts as *in a ring* once a bond closed a ring through it: the atoms on a
shortest path between the bond's two ends when it was added (``d(a, v) + d(v, b) =
d(a, b)``). That is the ring the bond made; it is the same rule in training and in
generation, so the model sees the same feature in both.

Teacher forcing computes both, per molecule and training order, with one pass over its
bonds (:func:`edge_step_rings`, numpy); generation keeps a distance matrix per molecule
and updates it at every bond (:class:`RingTracker`, torch, batched): adding the bond
``(a, b)`` to an unweighted graph gives

    d'(u, v) = min(d(u, v), d(u, a) + 1 + d(b, v), d(u, b) + 1 + d(a, v)),

an O(N^2) update instead of a shortest-path search per step. The model's embedding index
of a step is :func:`ring_index`.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

FAR = 1000
"""The distance of two atoms that are not connected (larger than any path)."""
MAX_DISTANCE = 9
"""Distances from this one on share an embedding (rings of 10 atoms or more)."""
RING_LEVELS = (MAX_DISTANCE + 1) * 8
"""Embedding indices of :func:`ring_index`: the distance level times the three ring flags
(a model without the *touches* flag uses ``index // 2``, :data:`RING_LEVELS` ``// 2``)."""

Array = TypeVar("Array", np.ndarray, Tensor)


def ring_index(distance: Array, ring_i: Array, ring_j: Array, touches: Array) -> Array:
    """The embedding index of a bond step from ``d(i, j)``, the ring flags of ``i`` and
    ``j``, and whether the ring the bond would close touches a ring (0 when none would close).

    The distance level is 0 when the atoms are not connected (no ring would close), else
    ``d`` capped at :data:`MAX_DISTANCE` (``d >= 2``: the pair has no bond yet). Works on
    numpy arrays and torch tensors alike.
    """
    level = (distance < FAR) * distance.clip(max=MAX_DISTANCE)
    return (level * 4 + ring_i * 2 + ring_j) * 2 + touches


Snapshots = tuple[np.ndarray, np.ndarray]
"""A molecule's shortest-path distances (E + 1, N, N) and ring flags (E + 1, N) after
each number of its bonds, 0 to E (:func:`distance_snapshots`)."""


def distance_snapshots(num_atoms: int, bonds: np.ndarray) -> Snapshots:
    """The distances and ring flags of a molecule after each number of its ``bonds`` (E, 3),
    rows ``(i, j, class)`` in generation order (:class:`OrderedGraph`)."""
    n, e = num_atoms, len(bonds)
    dist = np.empty((e + 1, n, n), np.int64)
    dist[0] = FAR
    np.fill_diagonal(dist[0], 0)
    ring = np.zeros((e + 1, n), np.int64)
    for k, (a, b) in enumerate(bonds[:, :2].tolist()):
        now = dist[k]
        d = now[a, b]
        ring[k + 1] = ring[k]
        if d < FAR:
            ring[k + 1][now[a] + now[b] == d] = 1
        via = np.minimum(now[:, a, None] + now[None, b, :], now[:, b, None] + now[None, a, :])
        np.minimum(now, via + 1, out=dist[k + 1])
    return dist, ring


def snapshot_rank(num_atoms: int, bonds: np.ndarray, ei: np.ndarray, ej: np.ndarray) -> np.ndarray:
    """For each bond step ``(ei[k], ej[k])``, the number of bonds decided before it (its
    snapshot): steps are sorted by ``(i, j)`` like the bonds, and see those with smaller keys."""
    return np.searchsorted(bonds[:, 0] * num_atoms + bonds[:, 1], ei * num_atoms + ej)


def edge_step_rings(
    num_atoms: int, bonds: np.ndarray, ei: np.ndarray, ej: np.ndarray, snapshots: Snapshots | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(d(i, j), ring_i, ring_j, touches)`` at each bond step ``(ei[k], ej[k])`` of a
    molecule (see :func:`ring_index`).

    ``bonds`` (E, 3) rows ``(i, j, class)`` in generation order (:class:`OrderedGraph`),
    the steps in generation order (:func:`flowstudio.molecules.packing.edge_step_pairs`).
    A step sees every bond decided before it: those of earlier atoms, and those of atom
    ``i`` to atoms before ``j``. ``snapshots``: :func:`distance_snapshots`, when at hand.
    """
    dist, ring = snapshots if snapshots is not None else distance_snapshots(num_atoms, bonds)
    rank = snapshot_rank(num_atoms, bonds, ei, ej)
    d = dist[rank, ei, ej]
    return d, ring[rank, ei], ring[rank, ej], _touches(dist[rank, ei], dist[rank, :, ej], d, ring[rank])


def _touches(d_i: Array, d_j: Array, d: Array, ring: Array) -> Array:
    """Per row, 1 when some atom ``v`` on a shortest path (``d(i, v) + d(v, j) = d``) of
    connected ends is in a ring, else 0: rows of distances from ``i`` and from ``j``, the
    distance ``d`` between them and the ring flags (numpy or torch)."""
    on_path = d_i + d_j == d[:, None]
    return ((on_path & (ring > 0)).any(1) & (d < FAR)) * 1


class RingTracker:
    """Shortest-path distances and ring flags of a batch of growing graphs (generation).

    ``distance`` (B, N, N) and ``in_ring`` (B, N); atoms without bonds are :data:`FAR` from
    every other atom.
    """

    def __init__(self, batch: int, max_atoms: int, device: torch.device) -> None:
        eye = torch.eye(max_atoms, dtype=torch.bool, device=device)
        self.distance = torch.full((batch, max_atoms, max_atoms), FAR, dtype=torch.long, device=device)
        self.distance.masked_fill_(eye, 0)
        self.in_ring = torch.zeros(batch, max_atoms, dtype=torch.long, device=device)

    def pair(self, molecules: Tensor, i: int, j: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(d(i, j), ring_i, ring_j, touches)`` of ``molecules`` (indices)."""
        d_i, d_j, ring = self.distance[molecules, i], self.distance[molecules, :, j], self.in_ring[molecules]
        d = d_i[:, j]
        return d, ring[:, i], ring[:, j], _touches(d_i, d_j, d, ring)

    def add_bonds(self, molecules: Tensor, i: int, j: int) -> None:
        """Record a bond ``i - j`` in each of ``molecules`` (indices)."""
        if molecules.numel() == 0:
            return
        dist = self.distance[molecules]
        d_i, d_j = dist[:, i], dist[:, j]  # (m, N)
        closing = dist[:, i, j].unsqueeze(1)
        on_path = (closing < FAR) & (d_i + d_j == closing)
        self.in_ring[molecules] |= on_path.long()
        via = torch.minimum(d_i.unsqueeze(2) + d_j.unsqueeze(1), d_j.unsqueeze(2) + d_i.unsqueeze(1)) + 1
        self.distance[molecules] = torch.minimum(dist, via)
