"""GraphAF: a flow-based autoregressive model of molecular graphs (Shi et al., ICLR 2020).

A molecule is a sequence of generation steps in a BFS ordering (see
:mod:`flowstudio.molecules.graph`): for each atom ``i`` a *node step* draws its type, then
one *edge step* per earlier atom ``j`` in the window ``[i - W, i)`` draws the bond class
(none, single, double, triple). Discrete one-hot choices are dequantized,
``x~ = onehot + c * u`` with ``u ~ U[0, 1)^d`` (the paper: ``c = 0.9``, §3.1; FlowStudio
uses 0.5 by default), and each step
is an affine flow conditioned on the partial graph (paper Eq. 7-8):

    z = f_L(... f_1(x~)),   f_l(x) = x * exp(a_l(G)) + b_l(G),   z ~ N(0, I),

where ``a_l, b_l`` are MLPs of R-GCN embeddings of the graph built so far: the sum-pooled
graph embedding for a node step, and ``[graph, h_i, h_j]`` for an edge step. ``argmax`` of
``x~`` recovers the discrete choice, so decoding a latent is exact.

Choices beyond the paper, each documented in ``benchmarks/results/graphaf.md`` (every
added input and the rotation start at zero, and each option can be switched off):

- an explicit END atom class (the node step after the last atom is trained to draw END, so
  the size distribution is learned instead of emerging from failures);
- a learned embedding of the window position ``i - 1 - j`` in the edge conditioner;
- ``valence_features``: an embedding of the valence both atoms of a bond step have left
  (the R-GCN would have to count bond orders to learn it);
- ``full_covariance``: each step's flow starts with a conditioned rotation of the one-hot
  coordinates (:class:`StepTransform`). The paper's element-wise affine flow is a Gaussian
  with a *diagonal* covariance over the classes; it cannot say "no bond or a single bond,
  nothing else", so when a step is uncertain between two classes its samples spill into
  the others (a double bond where only a single one fits). A full covariance can;
- ``order_features``: where a step stands in the breadth-first order. A bond step sees
  whether atom ``j`` was already expanded (it then never bonds to ``i``) and whether atom
  ``i`` has a bond yet; a node step sees the *open* atoms (the frontier, i.e. the parent
  of atom ``i - 1``, and the atoms after it: the only ones a new atom can bond to),
  sum-pooled, and the valence they have left (none left: the molecule is complete);
- ``end_step``: whether the molecule ends is its own step (go on, END) before the atom
  type. One Gaussian over the atom types and END together draws END less often than the
  data ends (its argmax flattens a peaked class distribution);
- ``end_classifier``: that step is a logistic classifier with an exact probability, not a
  two-class dequantized flow. A Gaussian fitted to a rare class's box puts too little mass
  past the decision boundary (for an END probability of 0.02 about 0.003), and over the
  20-odd atoms of a molecule the shortfall lets it run on to the size cap. Its latent is
  one number, ``z ~ N(0, 1)``, and the molecule ends when ``Phi(z) < P(END)``: inverting
  this CDF keeps decoding exact and sampling at temperature 1 calibrated;
- ``size_feature``: a node step sees how many atoms the molecule has so far (an
  embedding of the count). Whether to end depends on it first of all, and a sum-pooled
  graph embedding only carries it implicitly;
- dequantization ``c = 0.5`` by default instead of 0.9;
- bounded log-scales ``a = s * tanh(a_raw / s)`` for stability.

Training is teacher-forced and parallel over every step of a batch. The graph only changes
when an atom or a bond is added, so a molecule with N atoms and E bonds has N + E + 1
distinct partial graphs (*states*) although it has about ``N (W + 1)`` steps; the R-GCN runs
once per state on the packed disjoint union of all states of the batch, and each step
gathers the embeddings of its state. Nothing is padded to the maximum size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from flowstudio.molecules.graph import NUM_EDGE_CLASSES, AtomVocabulary, OrderedGraph
from flowstudio.molecules.rgcn import GraphOperators, RelationalGCN, segment_sum

_LOG_2PI = math.log(2 * math.pi)
ROOM_LEVELS = 4
"""Valence left at an atom, as an embedding index: 0, 1, 2, or 3 and more."""
OPEN_LEVELS = 8
"""Valence left over the open atoms of a node step, as an embedding index: 0 to 7 and more."""


@dataclass(frozen=True)
class GraphAFConfig:
    """Architecture hyperparameters (the paper: R-GCN 3 x 128, 12 flow layers)."""

    hidden: int = 128
    rgcn_layers: int = 3
    flow_layers: int = 12
    st_hidden: int = 128
    dequantization: float = 0.5
    scale_bound: float = 2.0
    valence_features: bool = True
    full_covariance: bool = True
    order_features: bool = True
    end_step: bool = True
    end_classifier: bool = True
    size_feature: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GraphAFConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _rotation_pairs(dim: int) -> list[tuple[int, int]]:
    return [(p, q) for p in range(dim) for q in range(p + 1, dim)]


def _rotate(x: Tensor, cos: Tensor, sin: Tensor, inverse: bool) -> Tensor:
    """Apply the product of Givens rotations (one per coordinate pair, angles given by
    ``cos``/``sin`` (n, d(d-1)/2)) to ``x`` (n, d), or its inverse, the transposed product."""
    dim = x.shape[-1]
    cols = list(x.unbind(-1))
    pairs = list(enumerate(_rotation_pairs(dim)))
    for k, (p, q) in reversed(pairs) if inverse else pairs:
        c, s = cos[:, k], (-sin[:, k] if inverse else sin[:, k])
        cols[p], cols[q] = c * cols[p] - s * cols[q], s * cols[p] + c * cols[q]
    return torch.stack(cols, dim=-1)


@dataclass
class StepTransform:
    """The affine flow of a batch of steps, from their conditions: data ``x`` (n, d) to
    latent ``z`` (n, d) is ``z = f_L(... f_1(Q x))`` with ``f_l(y) = y * exp(a_l) + b_l``.

    ``scale`` and ``shift`` (n, L, d) are the ``a_l, b_l``; ``angles`` (n, d(d-1)/2) give
    the rotation ``Q``, a product of one Givens rotation per pair of coordinates, or are
    ``None`` (``Q = I``: the paper's element-wise flow). With ``Q`` the step's Gaussian over
    ``x`` has a full covariance ``Q^T diag(.) Q`` instead of a diagonal one. A rotation has
    unit determinant and is inverted exactly by its transpose, so decoding an encoding
    stays exact whatever the weights (a triangular mixing would have to be solved, and its
    error can grow exponentially in ``d``).
    """

    scale: Tensor
    shift: Tensor
    angles: Tensor | None = None

    def __getitem__(self, index: Tensor) -> StepTransform:
        angles = None if self.angles is None else self.angles[index]
        return StepTransform(self.scale[index], self.shift[index], angles)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to latent: ``z`` (n, d) and ``log|det J|`` (n,)."""
        if self.angles is not None:
            x = _rotate(x, self.angles.cos(), self.angles.sin(), inverse=False)
        for layer in range(self.scale.shape[1]):
            x = x * self.scale[:, layer].exp() + self.shift[:, layer]
        return x, self.scale.sum(dim=(1, 2))

    def inverse(self, z: Tensor) -> Tensor:
        """Latent to data."""
        for layer in reversed(range(self.scale.shape[1])):
            z = (z - self.shift[:, layer]) * (-self.scale[:, layer]).exp()
        if self.angles is None:
            return z
        return _rotate(z, self.angles.cos(), self.angles.sin(), inverse=True)


class ConditionalAffineStack(nn.Module):
    """``L`` affine layers ``x -> x * exp(a_l) + b_l`` whose parameters are MLPs of a
    condition (GraphAF's "ST nets", one per layer), optionally after a conditioned
    rotation of the ``d`` dimensions (see :class:`StepTransform`).

    All ``L`` MLPs are evaluated together: their first layers are one ``Linear`` (applied
    by the caller, so that it can be split over the parts of the condition) and their
    second layers one batched matmul. The rotation angles are a linear read-out of all
    ``L`` hidden layers. The last layers start at zero: an untrained stack is the identity.
    """

    def __init__(
        self, dim: int, num_layers: int, hidden: int, scale_bound: float, mixing: bool = False
    ) -> None:
        super().__init__()
        self.dim, self.num_layers, self.hidden = dim, num_layers, hidden
        self.scale_bound = scale_bound
        self.out_weight = nn.Parameter(torch.zeros(num_layers, hidden, 2 * dim))
        self.out_bias = nn.Parameter(torch.zeros(num_layers, 2 * dim))
        self.angles_out: nn.Linear | None = None
        if mixing:
            self.angles_out = nn.Linear(num_layers * hidden, dim * (dim - 1) // 2)
            nn.init.zeros_(self.angles_out.weight)
            nn.init.zeros_(self.angles_out.bias)

    def parameters_from(self, pre_activation: Tensor) -> StepTransform:
        """The flow of each step from the first layers' output (n, L * hidden)."""
        flat = torch.relu(pre_activation)
        h = flat.view(-1, self.num_layers, self.hidden)
        out = torch.einsum("nlh,lho->nlo", h, self.out_weight) + self.out_bias
        raw_scale, shift = out.split(self.dim, dim=-1)
        scale = self.scale_bound * torch.tanh(raw_scale / self.scale_bound)
        angles = None if self.angles_out is None else self.angles_out(flat)
        return StepTransform(scale, shift, angles)

    @staticmethod
    def forward_transform(x: Tensor, scale: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
        """The element-wise layers alone (the paper's flow): data to latent."""
        return StepTransform(scale, shift).forward(x)

    @staticmethod
    def inverse_transform(z: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        """The element-wise layers alone: latent to data."""
        return StepTransform(scale, shift).inverse(z)


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
    graph: OrderedGraph, window: int, end_class: int, max_valence: np.ndarray
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
    }


def pack_steps(graphs: list[OrderedGraph], vocab: AtomVocabulary) -> PackedSteps:
    """Pack the teacher-forced steps of ``graphs`` (already ordered) into flat tensors."""
    window, end_class, max_valence = vocab.edge_window, vocab.size, vocab.max_valences()
    parts = [_molecule_steps(g, window, end_class, max_valence) for g in graphs]
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
    )
    num_inst = packed.inst_type.numel()
    packed.ops = GraphOperators.build(
        packed.inst_type, packed.edge_src, packed.edge_dst, packed.edge_rel, end_class, NUM_EDGE_CLASSES - 1
    )
    # Readout rows: the newest node of each state, atom j of each edge step, the sum over
    # the open atoms of each node step (a zero row when there are none), then the states.
    single = torch.cat([packed.state_newest, packed.edge_inst_j])
    ns = single.numel()
    open_rows, open_cols = _open_atoms(packed)
    m = ns + packed.node_open_count.numel()
    packed.ops.with_readout(
        torch.cat([torch.arange(ns), ns + open_rows, m + packed.inst_state]),
        torch.cat([single, open_cols, torch.arange(num_inst)]),
        m + packed.num_states,
    )
    return packed


def _open_atoms(packed: PackedSteps) -> tuple[Tensor, Tensor]:
    """``(node step, state-node)`` pairs: the open atoms of every node step."""
    count = packed.node_open_count
    rows = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    first = torch.cumsum(count, 0) - count
    cols = packed.node_open_start[rows] + torch.arange(rows.numel(), device=count.device) - first[rows]
    return rows, cols


def standard_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=-1)


class GraphAF(nn.Module):
    """The GraphAF model: an R-GCN and two conditional affine flows (nodes, edges)."""

    def __init__(self, vocab: AtomVocabulary, config: GraphAFConfig | None = None) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config = config or GraphAFConfig()
        self.num_node_classes = vocab.size + 1  # the atom types and END
        self.end_class = vocab.size
        d, layers, h = config.hidden, config.flow_layers, config.st_hidden
        self.rgcn = RelationalGCN(vocab.size, NUM_EDGE_CLASSES - 1, d, config.rgcn_layers)
        self.node_first = nn.Linear(d, layers * h)
        # The node step also sees the open atoms (the BFS frontier and the atoms after it,
        # the only ones a new atom can bond to), sum-pooled, and the valence they have left:
        # whether the molecule is complete depends on them, and GraphAF's pool over the
        # whole graph says little about it. Zero at first.
        self.node_first_open_atoms: nn.Linear | None = None
        self.node_first_open_valence: nn.Embedding | None = None
        if config.order_features:
            self.node_first_open_atoms = nn.Linear(d, layers * h, bias=False)
            self.node_first_open_valence = nn.Embedding(OPEN_LEVELS, layers * h)
            nn.init.zeros_(self.node_first_open_atoms.weight)
            nn.init.zeros_(self.node_first_open_valence.weight)
        # The number of atoms so far, 0 to max_atoms. Zero at first.
        self.node_first_size: nn.Embedding | None = None
        if config.size_feature:
            self.node_first_size = nn.Embedding(vocab.max_atoms + 1, layers * h)
            nn.init.zeros_(self.node_first_size.weight)
        # The edge MLPs' first layer on [graph, h_i, h_j], split by part so that the graph
        # and h_i terms are computed once per state, not once per step.
        self.edge_first_graph = nn.Linear(d, layers * h)
        self.edge_first_i = nn.Linear(d, layers * h, bias=False)
        self.edge_first_j = nn.Linear(d, layers * h, bias=False)
        # Where j sits in the window (i - 1 - j): the R-GCN alone cannot tell the last
        # candidate of atom i from the others. Starts at zero (the paper's model).
        self.edge_first_offset = nn.Embedding(vocab.edge_window, layers * h)
        nn.init.zeros_(self.edge_first_offset.weight)
        # The valence atoms i and j have left, each as 0, 1, 2 or 3+: a joint embedding of
        # the pair (whether a bond of order k fits depends on the smaller one). Zero at first.
        self.edge_first_room = nn.Embedding(ROOM_LEVELS**2, layers * h) if config.valence_features else None
        if self.edge_first_room is not None:
            nn.init.zeros_(self.edge_first_room.weight)
        # Where the step stands in the breadth-first order: is j closed, has i a bond yet.
        self.edge_first_order = nn.Embedding(4, layers * h) if config.order_features else None
        if self.edge_first_order is not None:
            nn.init.zeros_(self.edge_first_order.weight)
        mixing = config.full_covariance
        # With end_step a node step is two flows on the same conditioner hidden layer: a
        # two-class step (go on, END), then the atom type. Otherwise one flow over the atom
        # types and END together.
        # With end_classifier the first step is a logistic read-out of the same hidden layer.
        self.stop_flow: ConditionalAffineStack | None = None
        self.stop_logit: nn.Linear | None = None
        # Latent dimensions of the END decision: 0 (no END step), 1 (classifier), 2 (flow).
        self.stop_dim = 0
        if config.end_step and config.end_classifier:
            self.stop_logit = nn.Linear(layers * h, 1)
            nn.init.zeros_(self.stop_logit.weight)
            nn.init.zeros_(self.stop_logit.bias)
            self.stop_dim = 1
        elif config.end_step:
            self.stop_flow = ConditionalAffineStack(2, layers, h, config.scale_bound, mixing)
            self.stop_dim = 2
        if config.end_step:
            self.node_latent_dim = self.stop_dim + vocab.size
            type_classes = vocab.size
        else:
            self.node_latent_dim = self.num_node_classes
            type_classes = self.num_node_classes
        self.node_flow = ConditionalAffineStack(type_classes, layers, h, config.scale_bound, mixing)
        self.edge_flow = ConditionalAffineStack(NUM_EDGE_CLASSES, layers, h, config.scale_bound, mixing)
        self.register_buffer("max_valence", torch.from_numpy(vocab.max_valences()), persistent=False)
        # Added to the END logit by the number of atoms so far when sampling (see
        # flowstudio.molecules.calibration); zero until calibrated, never in the likelihood.
        self.register_buffer("end_offset", torch.zeros(vocab.max_atoms + 1), persistent=False)

    # ----------------------------------------------------------------- conditions
    def state_embeddings(
        self, atom_types: Tensor, node_graph: Tensor, num_graphs: int, src: Tensor, dst: Tensor, rel: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Node embeddings (n, d) and sum-pooled graph embeddings (num_graphs, d)."""
        nodes = self.rgcn(atom_types, src, dst, rel)
        graphs = segment_sum(nodes, node_graph, num_graphs)
        return nodes, graphs

    def node_conditions(
        self, graph_emb: Tensor, open_emb: Tensor, open_valence: Tensor, num_atoms: Tensor
    ) -> Tensor:
        """The node MLPs' first layer from the sum-pooled graph, the sum-pooled open atoms,
        ``open_valence`` from :meth:`open_index` and the number of atoms so far."""
        out = self.node_first(graph_emb)
        if self.node_first_open_atoms is not None and self.node_first_open_valence is not None:
            out = out + self.node_first_open_atoms(open_emb) + self.node_first_open_valence(open_valence)
        if self.node_first_size is not None:
            out = out + self.node_first_size(num_atoms.clamp(0, self.vocab.max_atoms))
        return out

    @staticmethod
    def open_index(open_valence: Tensor) -> Tensor:
        """The embedding index of the valence left over the atoms from the BFS frontier on
        (only these can bond to a new atom): 0 means the molecule must end."""
        return open_valence.clamp(0, OPEN_LEVELS - 1)

    def edge_state_conditions(self, graph_emb: Tensor, newest_emb: Tensor) -> Tensor:
        """The per-state part of the edge MLPs' first layer."""
        return self.edge_first_graph(graph_emb) + self.edge_first_i(newest_emb)

    def edge_conditions(
        self, state_part: Tensor, j_emb: Tensor, offset: Tensor, room: Tensor, order: Tensor
    ) -> Tensor:
        """The edge MLPs' first layer; ``room`` from :meth:`room_index`, ``order`` from
        :meth:`order_index`."""
        out = state_part + self.edge_first_j(j_emb) + self.edge_first_offset(offset)
        if self.edge_first_room is not None:
            out = out + self.edge_first_room(room)
        if self.edge_first_order is not None:
            out = out + self.edge_first_order(order)
        return out

    def valence_left(self, types: Tensor, used: Tensor) -> Tensor:
        """The bond order atoms of ``types`` can still take, having ``used`` (negative when
        over; the valency check redraws a bond larger than this)."""
        return self.max_valence[types] - used

    @staticmethod
    def room_index(left_i: Tensor, left_j: Tensor) -> Tensor:
        """The embedding index of the (valence left at i, at j) pair, each clamped to 0..3."""
        top = ROOM_LEVELS - 1
        return left_i.clamp(0, top) * ROOM_LEVELS + left_j.clamp(0, top)

    @staticmethod
    def order_index(closed_j: Tensor, used_i: Tensor) -> Tensor:
        """The embedding index of where an edge step stands in the breadth-first order.

        ``closed_j``: atom ``j`` comes before the parent of atom ``i - 1`` (the BFS
        frontier). In a BFS ordering such a ``j`` was expanded before atom ``i`` was
        discovered, so it never bonds to ``i``. ``used_i > 0``: atom ``i`` already has a
        bond; if it has none by the last candidate, the molecule ends (the stopping rule).
        """
        return 2 * closed_j + (used_i > 0).long()

    # ----------------------------------------------------------------- likelihood
    def dequantize(self, target: Tensor, num_classes: int, noise: Tensor | None) -> Tensor:
        onehot = torch.nn.functional.one_hot(target, num_classes).to(self.node_first.weight.dtype)
        if noise is None:
            noise = torch.rand_like(onehot)
        return onehot + self.config.dequantization * noise

    def step_latents(
        self,
        packed: PackedSteps,
        node_noise: Tensor | None = None,
        edge_noise: Tensor | None = None,
        calibrated: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Teacher-forced ``(z_node, logdet_node, z_edge, logdet_edge)`` of every step.

        ``*_noise`` in [0, 1) dequantizes (uniform random when ``None``; 0.5 gives the
        deterministic encoding used by :mod:`flowstudio.molecules.latent`). ``calibrated``
        encodes the END decisions with :attr:`end_offset`, as generation decodes them.
        """
        s, ne, nn_ = packed.num_states, packed.edge_inst_j.numel(), packed.node_open_count.numel()
        if packed.ops is not None and packed.ops.readout is not None:
            out = self.rgcn.readout(packed.inst_type, packed.ops)
            newest_emb, j_emb = out[:s], out[s : s + ne]
            open_emb, graphs = out[s + ne : s + ne + nn_], out[s + ne + nn_ :]
        else:
            nodes, graphs = self.state_embeddings(
                packed.inst_type,
                packed.inst_state,
                packed.num_states,
                packed.edge_src,
                packed.edge_dst,
                packed.edge_rel,
            )
            newest_emb, j_emb = nodes[packed.state_newest], nodes[packed.edge_inst_j]
            open_rows, open_cols = _open_atoms(packed)
            open_emb = segment_sum(nodes[open_cols], open_rows, nn_)
        node_cond = self.node_conditions(
            graphs[packed.node_state], open_emb, self.open_index(packed.node_open), packed.node_count
        )
        counts = packed.node_count if calibrated else None
        z_node, ld_node = self.node_latents(node_cond, packed.node_target, node_noise, counts)

        state_part = self.edge_state_conditions(graphs, newest_emb)
        room = self.room_index(
            self.valence_left(packed.inst_type[packed.state_newest[packed.edge_state]], packed.edge_used_i),
            self.valence_left(packed.inst_type[packed.edge_inst_j], packed.edge_used_j),
        )
        order = self.order_index(packed.edge_closed, packed.edge_used_i)
        edge_cond = self.edge_conditions(
            state_part[packed.edge_state], j_emb, packed.edge_offset, room, order
        )
        x_edge = self.dequantize(packed.edge_target, NUM_EDGE_CLASSES, edge_noise)
        z_edge, ld_edge = self.edge_flow.parameters_from(edge_cond).forward(x_edge)
        return z_node, ld_node, z_edge, ld_edge

    @property
    def has_end_step(self) -> bool:
        """Whether ending the molecule is its own step before the atom type."""
        return self.stop_dim > 0

    def end_log_probs(self, cond: Tensor, num_atoms: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(log P(go on), log P(END))`` of node steps (``end_classifier`` models); with
        ``num_atoms`` (atoms so far), after the sampling calibration :attr:`end_offset`."""
        assert self.stop_logit is not None
        logit = self.stop_logit(torch.relu(cond)).squeeze(1)
        if num_atoms is not None:
            logit = logit + self.end_offset[num_atoms.clamp(0, self.end_offset.numel() - 1)]
        return torch.nn.functional.logsigmoid(-logit), torch.nn.functional.logsigmoid(logit)

    def _stop_latents(
        self, cond: Tensor, ends: Tensor, noise: Tensor | None, num_atoms: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """The END decision's latents (n, stop_dim) and log-probabilities or densities (n,)."""
        if self.stop_flow is not None:
            x = self.dequantize(ends.long(), 2, noise)
            return self.stop_flow.parameters_from(cond).forward(x)
        log_go, log_end = self.end_log_probs(cond, num_atoms)
        # u ~ U(0, 1) falls in [0, P(END)) for END and in [P(END), 1) for go on, and
        # z = Phi^-1(u). Go on is written as z = -Phi^-1(1 - u) so that u near 1 keeps
        # its precision (a near-certain END, or an improbable one, still decodes exactly).
        noise = torch.rand_like(log_end) if noise is None else noise[:, 0]
        noise = noise.clamp(1e-6, 1 - 1e-6)
        z_end = torch.special.ndtri(noise * log_end.exp())
        z_go = -torch.special.ndtri((1 - noise) * log_go.exp())
        return torch.where(ends, z_end, z_go).unsqueeze(1), torch.where(ends, log_end, log_go)

    def node_latents(
        self, cond: Tensor, target: Tensor, noise: Tensor | None, num_atoms: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Latents (n, node_latent_dim) and log-determinants (n,) of node steps. With
        ``end_step`` the latent is ``[stop (stop_dim), type (K)]``; an END step has no type,
        and its type part is zero (see :meth:`node_log_prob`). With ``end_classifier`` the
        stop part's "log-determinant" is the decision's log-probability (calibrated when
        ``num_atoms`` is given, see :meth:`end_log_probs`)."""
        if not self.has_end_step:
            x = self.dequantize(target, self.num_node_classes, noise)
            return self.node_flow.parameters_from(cond).forward(x)
        k = self.stop_dim
        ends = target == self.end_class
        z_stop, ld = self._stop_latents(cond, ends, None if noise is None else noise[:, :k], num_atoms)
        go = (~ends).nonzero(as_tuple=True)[0]
        type_noise = None if noise is None else noise[go, k:]
        x_type = self.dequantize(target[go], self.vocab.size, type_noise)
        z_go, ld_go = self.node_flow.parameters_from(cond[go]).forward(x_type)
        z_type = z_stop.new_zeros(len(target), self.vocab.size).index_copy(0, go, z_go)
        return torch.cat([z_stop, z_type], dim=1), ld.index_add(0, go, ld_go)

    def node_log_prob(self, z_node: Tensor, ld_node: Tensor, target: Tensor) -> Tensor:
        """Log-density (nats) of each node step from :meth:`node_latents`."""
        if not self.has_end_step:
            return standard_normal_log_prob(z_node) + ld_node
        k = self.stop_dim
        has_type = target != self.end_class
        type_part = standard_normal_log_prob(z_node[:, k:]) * has_type
        # A classifier's decision already carries its log-probability in ld_node.
        stop_part = standard_normal_log_prob(z_node[:, :k]) if self.stop_flow is not None else 0.0
        return stop_part + type_part + ld_node

    def decode_node(
        self, cond: Tensor, z: Tensor, allow_end: bool, num_atoms: Tensor | None = None
    ) -> Tensor:
        """The atom type (or ``end_class``) that latents ``z`` (n, node_latent_dim) decode to;
        ``num_atoms`` (atoms so far) applies the END calibration (:meth:`end_log_probs`)."""
        if not self.has_end_step:
            x = self.node_flow.parameters_from(cond).inverse(z)
            return x.argmax(dim=1) if allow_end else x[:, : self.end_class].argmax(dim=1)
        k = self.stop_dim
        types = self.node_flow.parameters_from(cond).inverse(z[:, k:]).argmax(dim=1)
        if not allow_end:
            return types
        if self.stop_flow is not None:
            stop = self.stop_flow.parameters_from(cond).inverse(z[:, :k]).argmax(dim=1) == 1
        else:
            # Phi(z) < P(END), compared as log Phi(z) < log P(END) to keep the tails exact.
            stop = torch.special.log_ndtr(z[:, 0]) < self.end_log_probs(cond, num_atoms)[1]
        return torch.where(stop, torch.full_like(types, self.end_class), types)

    def log_likelihood(
        self, packed: PackedSteps, node_noise: Tensor | None = None, edge_noise: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Per-molecule log-densities (nats) of the node steps and of the edge steps
        (``*_noise``: see :meth:`step_latents`)."""
        z_node, ld_node, z_edge, ld_edge = self.step_latents(packed, node_noise, edge_noise)
        ll_node = self.node_log_prob(z_node, ld_node, packed.node_target)
        ll_edge = standard_normal_log_prob(z_edge) + ld_edge
        b = packed.num_molecules
        per_node = segment_sum(ll_node, packed.node_mol, b)
        per_edge = segment_sum(ll_edge, packed.edge_mol, b)
        return per_node, per_edge

    def loss_terms(self, packed: PackedSteps) -> dict[str, Tensor]:
        """Mean negative log-likelihood per molecule (``loss``) and its two parts."""
        per_node, per_edge = self.log_likelihood(packed)
        node_nll, edge_nll = -per_node.mean(), -per_edge.mean()
        return {"loss": node_nll + edge_nll, "node_nll": node_nll, "edge_nll": edge_nll}
