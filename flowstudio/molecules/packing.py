"""GraphAF's teacher forcing: every generation step of a batch of ordered molecules, packed.

A molecule with N atoms and E bonds has N + E + 1 distinct partial graphs (*states*)
although it has about ``N (W + 1)`` steps (see :mod:`flowstudio.molecules.graphaf`); the
R-GCN runs once per state on the packed disjoint union of all states of the batch, and
each step gathers the embeddings of its state. Nothing is padded to the maximum size.
All index arithmetic is numpy, once per molecule per training order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio.molecules.conjugation_features import (
    conjugation_index,
    edge_step_conjugation,
    lone_pair_donors,
)
from flowstudio.molecules.graph import (
    NUM_EDGE_CLASSES,
    AtomVocabulary,
    MolGraph,
    OrderedGraph,
    apply_order,
    fitting_order,
)
from flowstudio.molecules.rgcn import GraphOperators
from flowstudio.molecules.ring_features import distance_snapshots, edge_step_rings, ring_index


@dataclass
class PackedSteps:
    """Every generation step of a batch of ordered molecules, teacher-forced.

    States are the distinct partial graphs; ``inst_*`` are their nodes (an atom of a
    molecule appears once per state that holds it) and ``edge_*`` their directed bonds.
    """

    num_molecules: int
    num_states: int
    inst_type: Tensor  # (I,) atom type of each state-node
    inst_state: Tensor  # (I,) state it belongs to
    edge_src: Tensor  # (2M,) state-node index
    edge_dst: Tensor
    edge_rel: Tensor  # bond class - 1
    state_newest: Tensor  # (S,) index of the newest state-node (0 for the empty state)
    node_state: Tensor  # (Nn,) state each node step is conditioned on
    node_target: Tensor  # (Nn,) atom type, END for the step after the last atom
    node_mol: Tensor
    edge_state: Tensor  # (Ne,)
    edge_inst_j: Tensor  # (Ne,) state-node of the earlier atom j
    edge_offset: Tensor  # (Ne,) i - 1 - j, the position of j in the window
    edge_target: Tensor  # (Ne,) bond class 0..3
    edge_mol: Tensor
    edge_used_i: Tensor  # (Ne,) total bond order atom i already has at this step
    edge_used_j: Tensor  # (Ne,) total bond order atom j already has at this step
    edge_closed: Tensor  # (Ne,) 1 when j is before the BFS frontier (see order_index)
    node_open_start: Tensor  # (Nn,) state-node of the BFS frontier atom (see open_index)
    node_open_count: Tensor  # (Nn,) open atoms: the frontier and the atoms after it
    node_open: Tensor  # (Nn,) valence left over the atoms from the frontier on (see open_index)
    node_count: Tensor  # (Nn,) atoms already there: k at node step k
    edge_ring: Tensor  # (Ne,) ring_index of d(i, j) and the ring flags (see ring_features)
    edge_conjugation: Tensor  # (Ne,) conjugation_index (see conjugation_features)
    # Precomputed once per batch for the R-GCN's operator form (None: the edge form).
    ops: GraphOperators | None = None

    def to(self, device: torch.device) -> PackedSteps:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                setattr(self, f.name, value.to(device, non_blocking=True))
            elif isinstance(value, GraphOperators):
                setattr(self, f.name, value.to(device))
        return self


def edge_step_pairs(num_atoms: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The edge steps ``(i, j)`` of a molecule in generation order: for each atom ``i``,
    ``j`` runs over ``[max(0, i - window), i)`` ascending."""
    lo = np.maximum(np.arange(num_atoms) - window, 0)
    count = np.arange(num_atoms) - lo
    ei = np.repeat(np.arange(num_atoms), count)
    ej = np.arange(len(ei)) - np.repeat(np.cumsum(count) - count, count) + lo[ei]
    return ei, ej


def _molecule_steps(
    graph: OrderedGraph, window: int, end_class: int, max_valence: np.ndarray, donor_types: np.ndarray
) -> dict[str, np.ndarray]:
    """The packed steps of one molecule with local indices (see :class:`PackedSteps`)."""
    atoms, bonds = graph.atoms, graph.bonds
    n, e = len(atoms), len(bonds)
    per_atom = np.bincount(bonds[:, 0], minlength=n) if e else np.zeros(n, np.int64)
    node_event = np.arange(n) + np.concatenate([[0], np.cumsum(per_atom)[:-1]])
    is_node = np.zeros(n + e, np.int64)
    is_node[node_event] = 1
    state_nodes = np.concatenate([[0], np.cumsum(is_node)])  # (S,)
    state_bonds = np.arange(n + e + 1) - state_nodes
    num_states = n + e + 1
    inst_offset = np.concatenate([[0], np.cumsum(state_nodes)[:-1]])
    inst_state = np.repeat(np.arange(num_states), state_nodes)
    inst_atom = np.arange(len(inst_state)) - inst_offset[inst_state]
    bond_offset = np.concatenate([[0], np.cumsum(state_bonds)[:-1]])
    bond_state = np.repeat(np.arange(num_states), state_bonds)
    bond_k = np.arange(len(bond_state)) - bond_offset[bond_state]
    later = inst_offset[bond_state] + bonds[bond_k, 0]
    earlier = inst_offset[bond_state] + bonds[bond_k, 1]
    rel = bonds[bond_k, 2] - 1
    newest = np.maximum(inst_offset + state_nodes - 1, 0)

    node_state = np.concatenate([node_event, [num_states - 1]])
    node_target = np.concatenate([atoms, [end_class]])

    table = np.zeros((n, n), np.int64)
    if e:
        table[bonds[:, 0], bonds[:, 1]] = bonds[:, 2]
    present = (table > 0).astype(np.int64)
    before = np.cumsum(present, axis=1) - present  # bonds of atom i decided before j
    ei, ej = edge_step_pairs(n, window)
    edge_state = node_event[ei] + 1 + before[ei, ej]
    # Bond orders so far: atom j has all its bonds to atoms before i; atom i its bonds to
    # the atoms before j (its own row of the symmetric order matrix, cumulated).
    orders = table + table.T
    cumulated = np.cumsum(orders, axis=1)
    used_i = cumulated[ei, ej] - orders[ei, ej]
    used_j = cumulated[ej, np.maximum(ei - 1, 0)]
    # The BFS frontier of atom i is the parent (first bonded atom) of atom i - 1.
    parent = np.where(present.any(axis=1), present.argmax(axis=1), 0)
    frontier = np.where(ei >= 2, parent[np.maximum(ei - 1, 0)], 0)
    # Node step k (atom k, or END at k = n) sees atoms 0..k-1 with all their bonds.
    steps = np.arange(n + 1)
    step_frontier = np.where(steps >= 2, parent[np.maximum(steps - 1, 0)], 0)
    left = max_valence[atoms][None, :] - cumulated[:, np.maximum(steps - 1, 0)].T  # (n + 1, n)
    span = (np.arange(n)[None, :] >= step_frontier[:, None]) & (np.arange(n)[None, :] < steps[:, None])
    node_open = (left * span).sum(axis=1)
    snapshots = distance_snapshots(n, bonds)
    return {
        "num_states": np.int64(num_states),
        "inst_type": atoms[inst_atom],
        "inst_state": inst_state,
        "edge_src": np.concatenate([earlier, later]),
        "edge_dst": np.concatenate([later, earlier]),
        "edge_rel": np.concatenate([rel, rel]),
        "state_newest": newest,
        "node_state": node_state,
        "node_target": node_target,
        "edge_state": edge_state,
        "edge_inst_j": inst_offset[edge_state] + ej,
        "edge_offset": ei - 1 - ej,
        "edge_target": table[ei, ej],
        "edge_used_i": used_i,
        "edge_used_j": used_j,
        "edge_closed": (ej < frontier).astype(np.int64),
        "node_open_start": inst_offset[node_state] + step_frontier,
        "node_open_count": np.maximum(steps - step_frontier, 0),
        "node_open": node_open,
        "node_count": steps,
        "edge_ring": ring_index(*edge_step_rings(n, bonds, ei, ej, snapshots)),
        "edge_conjugation": conjugation_index(
            *edge_step_conjugation(atoms, bonds, ei, ej, donor_types, snapshots)
        ),
    }


def pack_steps(graphs: list[OrderedGraph], vocab: AtomVocabulary) -> PackedSteps:
    """Pack the teacher-forced steps of ``graphs`` (already ordered) into flat tensors."""
    window, end_class, max_valence = vocab.edge_window, vocab.size, vocab.max_valences()
    donor_types = lone_pair_donors(vocab)
    parts = [_molecule_steps(g, window, end_class, max_valence, donor_types) for g in graphs]
    state_base = np.concatenate([[0], np.cumsum([p["num_states"] for p in parts])])
    inst_base = np.concatenate([[0], np.cumsum([len(p["inst_type"]) for p in parts])])

    def cat(key: str, base: np.ndarray | None = None) -> Tensor:
        arrays = [p[key] + (base[k] if base is not None else 0) for k, p in enumerate(parts)]
        return torch.from_numpy(np.concatenate(arrays).astype(np.int64))

    def mol_index(key: str) -> Tensor:
        return torch.from_numpy(np.repeat(np.arange(len(parts)), [len(p[key]) for p in parts]))

    packed = PackedSteps(
        num_molecules=len(parts),
        num_states=int(state_base[-1]),
        inst_type=cat("inst_type"),
        inst_state=cat("inst_state", state_base),
        edge_src=cat("edge_src", inst_base),
        edge_dst=cat("edge_dst", inst_base),
        edge_rel=cat("edge_rel"),
        state_newest=cat("state_newest", inst_base),
        node_state=cat("node_state", state_base),
        node_target=cat("node_target"),
        node_mol=mol_index("node_target"),
        edge_state=cat("edge_state", state_base),
        edge_inst_j=cat("edge_inst_j", inst_base),
        edge_offset=cat("edge_offset"),
        edge_target=cat("edge_target"),
        edge_mol=mol_index("edge_target"),
        edge_used_i=cat("edge_used_i"),
        edge_used_j=cat("edge_used_j"),
        edge_closed=cat("edge_closed"),
        node_open_start=cat("node_open_start", inst_base),
        node_open_count=cat("node_open_count"),
        node_open=cat("node_open"),
        node_count=cat("node_count"),
        edge_ring=cat("edge_ring"),
        edge_conjugation=cat("edge_conjugation"),
    )
    num_inst = packed.inst_type.numel()
    packed.ops = GraphOperators.build(
        packed.inst_type, packed.edge_src, packed.edge_dst, packed.edge_rel, end_class, NUM_EDGE_CLASSES - 1
    )
    # Readout rows: the newest node of each state, atom j of each edge step, the sum over
    # the open atoms of each node step (a zero row when there are none), then the states.
    single = torch.cat([packed.state_newest, packed.edge_inst_j])
    ns = single.numel()
    open_rows, open_cols = open_atoms(packed)
    m = ns + packed.node_open_count.numel()
    packed.ops.with_readout(
        torch.cat([torch.arange(ns), ns + open_rows, m + packed.inst_state]),
        torch.cat([single, open_cols, torch.arange(num_inst)]),
        m + packed.num_states,
    )
    return packed


def pack_in_order(graphs: list[MolGraph], vocab: AtomVocabulary, rng: Any) -> PackedSteps:
    """Put each molecule in a random BFS order that fits the edge window (drawn from ``rng``:
    ``numpy.random``, a ``RandomState`` or a ``Generator``), then :func:`pack_steps`."""
    ordered = []
    for graph in graphs:
        order = fitting_order(graph, vocab.edge_window, rng)
        assert order is not None  # the task keeps only molecules with a fitting order
        ordered.append(apply_order(graph, order))
    return pack_steps(ordered, vocab)


def open_atoms(packed: PackedSteps) -> tuple[Tensor, Tensor]:
    """``(node step, state-node)`` pairs: the open atoms of every node step."""
    count = packed.node_open_count
    rows = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    first = torch.cumsum(count, 0) - count
    cols = packed.node_open_start[rows] + torch.arange(rows.numel(), device=count.device) - first[rows]
    return rows, cols
