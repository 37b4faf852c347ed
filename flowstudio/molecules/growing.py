"""The growing graphs of one batch of GraphAF generation and their cached conditions.

:func:`flowstudio.molecules.generate.generate` grows many molecules in lockstep; this
holds their atoms, bonds, valences and BFS parents, the R-GCN embeddings of each molecule
(re-run only for molecules whose graph changed, see :meth:`GrowingBatch.refresh`), and the
ring and conjugation trackers that give each bond step its features
(:mod:`flowstudio.molecules.ring_features`, :mod:`flowstudio.molecules.conjugation_features`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from flowstudio.molecules.conjugation_features import ConjugationTracker, lone_pair_donors
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.ring_features import RingTracker

END_TOKEN, END_NO_BOND, END_MAX_ATOMS = 0, 1, 2
"""How a molecule ended: it drew END, a new atom got no bond, or it reached ``max_atoms``."""


class GrowingBatch:
    """The growing graphs of one batch and the cached conditions of each molecule."""

    def __init__(self, model: GraphAF, batch: int, device: torch.device) -> None:
        self.model = model
        n_max = model.vocab.max_atoms
        d = model.config.hidden
        self.atoms = torch.full((batch, n_max), -1, dtype=torch.long, device=device)
        self.count = torch.zeros(batch, dtype=torch.long, device=device)
        self.valence = torch.zeros(batch, n_max, dtype=torch.long, device=device)
        # The first atom each atom bonded to (its BFS parent); n_max while it has none.
        self.parent = torch.full((batch, n_max), n_max, dtype=torch.long, device=device)
        self.bonds = torch.zeros(0, 4, dtype=torch.long, device=device)  # (mol, i, j, class)
        self.finished = torch.zeros(batch, dtype=torch.bool, device=device)
        self.ended = torch.full((batch,), END_MAX_ATOMS, dtype=torch.long, device=device)
        self.resampled = torch.zeros(batch, dtype=torch.bool, device=device)
        self.dirty = torch.zeros(batch, dtype=torch.bool, device=device)
        self.node_emb = torch.zeros(batch, n_max, d, device=device)
        self.graph_emb = torch.zeros(batch, d, device=device)
        width = model.config.flow_layers * model.config.st_hidden
        self.edge_state = torch.zeros(batch, width, device=device)
        self.rings = RingTracker(batch, n_max, device)
        self.conjugation = (
            ConjugationTracker(batch, n_max, lone_pair_donors(model.vocab), device)
            if model.config.conjugation_features
            else None
        )
        # The R-GCN embedding of an atom without bonds depends on its type alone: a new
        # atom adds it to its molecule's cached embeddings instead of a re-run.
        types = torch.arange(model.vocab.size, device=device)
        none = torch.zeros(0, dtype=torch.long, device=device)
        self.lone_atom = model.rgcn(types, none, none, none)

    def add_atoms(self, molecules: Tensor, i: int, types: Tensor) -> None:
        """Atom ``i`` of ``types`` joins ``molecules``, not yet bonded (embeddings updated
        exactly: an atom without bonds changes no other atom's embedding)."""
        self.atoms[molecules, i] = types
        self.count[molecules] = i + 1
        emb = self.lone_atom[types]
        self.node_emb[molecules, i] = emb
        self.graph_emb[molecules] += emb
        self.edge_state[molecules] = self.model.edge_state_conditions(self.graph_emb[molecules], emb)

    def refresh(self, molecules: Tensor) -> None:
        """Recompute the embeddings of ``molecules`` (indices) that changed since last time."""
        molecules = molecules[self.dirty[molecules]]
        if molecules.numel() == 0:
            return
        self.dirty[molecules] = False
        b = self.atoms.shape[0]
        local = torch.full((b,), -1, dtype=torch.long, device=self.atoms.device)
        local[molecules] = torch.arange(molecules.numel(), device=self.atoms.device)
        present = self.atoms[molecules] >= 0
        mol_local, position = present.nonzero(as_tuple=True)
        inst_index = torch.full_like(self.atoms[molecules], -1)
        inst_index[mol_local, position] = torch.arange(mol_local.numel(), device=self.atoms.device)
        types = self.atoms[molecules][mol_local, position]
        chosen = self.bonds[local[self.bonds[:, 0]] >= 0]
        bond_mol = local[chosen[:, 0]]
        later = inst_index[bond_mol, chosen[:, 1]]
        earlier = inst_index[bond_mol, chosen[:, 2]]
        rel = chosen[:, 3] - 1
        nodes, graphs = self.model.state_embeddings(
            types,
            mol_local,
            molecules.numel(),
            torch.cat([earlier, later]),
            torch.cat([later, earlier]),
            torch.cat([rel, rel]),
        )
        self.node_emb[molecules[mol_local], position] = nodes
        self.graph_emb[molecules] = graphs
        newest = (self.count[molecules] - 1).clamp(min=0)
        self.edge_state[molecules] = self.model.edge_state_conditions(
            graphs, self.node_emb[molecules, newest]
        )

    def frontier(self, molecules: Tensor, i: int) -> Tensor:
        """The BFS frontier of atom ``i``: the parent of atom ``i - 1`` (atom 0 for ``i < 2``).
        Atoms before it never bond to atom ``i`` or later ones."""
        return self.parent[molecules, i - 1] if i >= 2 else torch.zeros_like(molecules)

    def node_conditions(self, molecules: Tensor, i: int) -> Tensor:
        """The condition of node step ``i`` (atoms ``0..i-1`` are there) of ``molecules``."""
        model = self.model
        n_max = self.atoms.shape[1]
        frontier = self.frontier(molecules, i)
        position = torch.arange(n_max, device=molecules.device)
        span = (position >= frontier.unsqueeze(1)) & (position < i)
        open_emb = torch.einsum("bn,bnd->bd", span.to(self.node_emb.dtype), self.node_emb[molecules])
        left = model.valence_left(self.atoms[molecules].clamp(min=0), self.valence[molecules])
        open_valence = (left * span).sum(dim=1)
        count = torch.full_like(molecules, i)
        return model.node_conditions(
            self.graph_emb[molecules], open_emb, model.open_index(open_valence), count
        )

    def add_bonds(self, molecules: Tensor, i: int, j: int, klass: Tensor) -> None:
        keep = klass > 0
        molecules, klass = molecules[keep], klass[keep]
        if molecules.numel() == 0:
            return
        rows = torch.stack(
            [molecules, torch.full_like(molecules, i), torch.full_like(molecules, j), klass], dim=1
        )
        self.bonds = torch.cat([self.bonds, rows])
        self.valence[molecules, i] += klass
        self.valence[molecules, j] += klass
        self.parent[molecules, i] = torch.minimum(self.parent[molecules, i], torch.full_like(molecules, j))
        self.dirty[molecules] = True
        if self.conjugation is not None:  # before the distances change: the ring it closes
            self.conjugation.add_bonds(molecules, i, j, klass, self.rings.distance, self.atoms)
        self.rings.add_bonds(molecules, i, j)

    def conjugation_index(self, molecules: Tensor, i: int, j: int) -> Tensor | None:
        """The bond step ``(i, j)``'s conjugation features (None: the model has none)."""
        if self.conjugation is None:
            return None
        return self.conjugation.index(molecules, i, j, self.rings.distance, self.atoms)
