"""GraphAF: a flow-based autoregressive model of molecular graphs (Shi et al., ICLR 2020).

A molecule is a sequence of generation steps in a BFS ordering (see
:mod:`flowstudio.molecules.graph`): for each atom ``i`` a *node step* draws its type, then
one *edge step* per earlier atom ``j`` in the window ``[i - W, i)`` draws the bond class
(none, single, double, triple). Discrete one-hot choices are dequantized,
``x~ = onehot + c * u`` with ``u ~ U[0, 1)^d`` (the paper: ``c = 0.9``, §3.1; FlowStudio
uses 0.5 by default), and each step is an affine flow conditioned on the partial graph (paper Eq. 7-8):

    z = f_L(... f_1(x~)),   f_l(x) = x * exp(a_l(G)) + b_l(G),   z ~ N(0, I),

where ``a_l, b_l`` are MLPs of R-GCN embeddings of the graph built so far: the sum-pooled
graph embedding for a node step, and ``[graph, h_i, h_j]`` for an edge step. ``argmax`` of
``x~`` recovers the discrete choice, so decoding a latent is exact.

FlowStudio's additions to the paper's model (an END step, the window position, valence,
breadth-first order, size, ring and bond-order features, a rotation in each step's flow,
dequantization 0.5, bounded log-scales) are listed with why and what each measured in
``benchmarks/results/graphaf.md``; every added input and the rotation start at zero. Each
step's flow is a :class:`~flowstudio.flows.conditional_affine.ConditionalAffineStack` of the
flow library and its latent density the library's standard normal; the END step is
:mod:`flowstudio.molecules.end_step`, the teacher-forcing preparation
:mod:`flowstudio.molecules.packing`.

Training is teacher-forced and parallel over every step of a batch. The graph only changes
when an atom or a bond is added, so a molecule with N atoms and E bonds has N + E + 1
distinct partial graphs (*states*) although it has about ``N (W + 1)`` steps; the R-GCN runs
once per state on the packed disjoint union of all states of the batch, and each step
gathers the embeddings of its state. Nothing is padded to the maximum size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from flowstudio.flows.conditional_affine import ConditionalAffineStack
from flowstudio.flows.distributions import standard_normal_log_prob
from flowstudio.molecules.categorical_step import CategoricalSteps
from flowstudio.molecules.conjugation_features import CONJUGATION_LEVELS
from flowstudio.molecules.end_step import EndClassifier
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, AtomVocabulary
from flowstudio.molecules.packing import PackedSteps, open_atoms
from flowstudio.molecules.rgcn import RelationalGCN, segment_sum
from flowstudio.molecules.ring_features import RING_LEVELS

ROOM_LEVELS = 4
"""Valence left at an atom, as an embedding index: 0, 1, 2, or 3 and more."""
OPEN_LEVELS = 8
"""Valence left over the open atoms of a node step, as an embedding index: 0 to 7 and more."""


def _zero_embedding(num: int, width: int) -> nn.Embedding:
    """An embedding of an added input that starts at zero, so that it changes nothing until
    trained (created as ``nn.Embedding`` is, so the random stream stays the same)."""
    embedding = nn.Embedding(num, width)
    nn.init.zeros_(embedding.weight)
    return embedding


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
    size_feature: bool = True
    ring_features: bool = True
    fusing_feature: bool = False  # the ring feature's "touches a ring" flag (ring_features)
    conjugation_features: bool = False  # on in the presets; runs from before it have none
    categorical_steps: bool = False  # atom and bond steps as classifiers (categorical_step)
    classifier_layers: int = 1  # hidden layers of each classifier step (1: runs from before it)


class GraphAF(nn.Module):
    """The GraphAF model: an R-GCN and two conditional affine flows (nodes, edges)."""

    def __init__(self, vocab: AtomVocabulary, config: GraphAFConfig | None = None) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config = config or GraphAFConfig()
        self.num_node_classes = vocab.size + 1  # the atom types and END
        self.end_class = vocab.size
        d, layers, h = config.hidden, config.flow_layers, config.st_hidden
        width = layers * h  # the first layer of every step's conditioners (h a flow layer)
        self.rgcn = RelationalGCN(vocab.size, NUM_EDGE_CLASSES - 1, d, config.rgcn_layers)
        self.node_first = nn.Linear(d, width)
        # The node step also sees the open atoms (the BFS frontier and the atoms after it,
        # the only ones a new atom can bond to), sum-pooled, and the valence they have left:
        # whether the molecule is complete depends on them, and GraphAF's pool over the
        # whole graph says little about it. Zero at first.
        self.node_first_open_atoms: nn.Linear | None = None
        self.node_first_open_valence: nn.Embedding | None = None
        if config.order_features:
            self.node_first_open_atoms = nn.Linear(d, width, bias=False)
            self.node_first_open_valence = _zero_embedding(OPEN_LEVELS, width)
            nn.init.zeros_(self.node_first_open_atoms.weight)
        # The number of atoms so far, 0 to max_atoms. Zero at first.
        self.node_first_size = _zero_embedding(vocab.max_atoms + 1, width) if config.size_feature else None
        # The edge MLPs' first layer on [graph, h_i, h_j], split by part so that the graph
        # and h_i terms are computed once per state, not once per step.
        self.edge_first_graph = nn.Linear(d, width)
        self.edge_first_i = nn.Linear(d, width, bias=False)
        self.edge_first_j = nn.Linear(d, width, bias=False)
        # Where j sits in the window (i - 1 - j): the R-GCN alone cannot tell the last
        # candidate of atom i from the others. Starts at zero (the paper's model).
        self.edge_first_offset = _zero_embedding(vocab.edge_window, width)
        # The valence atoms i and j have left, each as 0, 1, 2 or 3+: a joint embedding of
        # the pair (whether a bond of order k fits depends on the smaller one). Zero at first.
        self.edge_first_room = _zero_embedding(ROOM_LEVELS**2, width) if config.valence_features else None
        # Where the step stands in the breadth-first order: is j closed, has i a bond yet.
        self.edge_first_order = _zero_embedding(4, width) if config.order_features else None
        # The ring the bond would close, whether i and j are in rings (and, fusing_feature, whether
        # the ring touches one; else the index drops that flag). Zero at first.
        levels = RING_LEVELS if config.fusing_feature else RING_LEVELS // 2
        self.edge_first_ring = _zero_embedding(levels, width) if config.ring_features else None
        # Pi bonds at i and j, the ring's atoms without one, aromatic-like rings. Zero at first.
        self.edge_first_conjugation = (
            _zero_embedding(CONJUGATION_LEVELS, width) if config.conjugation_features else None
        )
        # Set by the task from its training data: the ring check's allowed ring sizes (chemistry_check;
        # None: valence only) and the data's kinds of ring system (rings.ring_system_kinds; None: unknown).
        self.ring_sizes: tuple[int, ...] | None = None
        self.ring_systems: frozenset[str] | None = None
        # Sampling settings the task sets from the run's (flowstudio.molecules.generate): bond
        # steps at bond_temperature times T (1: one temperature); the redraws (False: GraphAF's).
        self.bond_temperature = 1.0
        self.redraw_cut = self.redraw_bondless = self.redraw_hypervalent = self.redraw_unseen_rings = False
        rotation = config.full_covariance  # each step's flow starts with a conditioned rotation
        # With end_step a node step is the END classifier on the conditioner's hidden layer,
        # then (going on) a flow over the atom types; without, one flow over the atom types
        # and END together (the paper's model with an END class).
        self.stop_logit = EndClassifier(width) if config.end_step else None
        self.stop_dim = 1 if config.end_step else 0  # latent dimensions of the END decision
        if config.end_step:
            self.node_latent_dim = self.stop_dim + vocab.size
            type_classes = vocab.size
        else:
            self.node_latent_dim = self.num_node_classes
            type_classes = self.num_node_classes
        # Each atom-type and bond step: an affine flow over the dequantized one-hot (the
        # paper), or a classifier with an exact latent (flowstudio.molecules.categorical_step).
        self.node_flow: ConditionalAffineStack | CategoricalSteps
        self.edge_flow: ConditionalAffineStack | CategoricalSteps
        if config.categorical_steps:
            depth = config.classifier_layers
            self.node_flow = CategoricalSteps(type_classes, width, config.dequantization, depth)
            self.edge_flow = CategoricalSteps(NUM_EDGE_CLASSES, width, config.dequantization, depth)
        else:
            self.node_flow = ConditionalAffineStack(type_classes, layers, h, config.scale_bound, rotation)
            self.edge_flow = ConditionalAffineStack(NUM_EDGE_CLASSES, layers, h, config.scale_bound, rotation)
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
        self,
        state_part: Tensor,
        j_emb: Tensor,
        offset: Tensor,
        room: Tensor,
        order: Tensor,
        ring: Tensor,
        conjugation: Tensor | None = None,
    ) -> Tensor:
        """The edge MLPs' first layer; ``room`` from :meth:`room_index`, ``order`` from
        :meth:`order_index`, ``ring`` from :func:`~flowstudio.molecules.ring_features.ring_index`,
        ``conjugation`` (models with it) from
        :func:`~flowstudio.molecules.conjugation_features.conjugation_index`."""
        out = state_part + self.edge_first_j(j_emb) + self.edge_first_offset(offset)
        if self.edge_first_room is not None:
            out = out + self.edge_first_room(room)
        if self.edge_first_order is not None:
            out = out + self.edge_first_order(order)
        if self.edge_first_ring is not None:
            out = out + self.edge_first_ring(ring if self.config.fusing_feature else ring // 2)
        if self.edge_first_conjugation is not None:
            if conjugation is None:
                raise ValueError("this model's bond steps need their conjugation_index")
            out = out + self.edge_first_conjugation(conjugation)
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
            open_rows, open_cols = open_atoms(packed)
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
            state_part[packed.edge_state],
            j_emb,
            packed.edge_offset,
            room,
            order,
            packed.edge_ring,
            packed.edge_conjugation,
        )
        x_edge = self.dequantize(packed.edge_target, NUM_EDGE_CLASSES, edge_noise)
        z_edge, ld_edge = self.edge_flow.at(edge_cond).forward(x_edge)
        return z_node, ld_node, z_edge, ld_edge

    @property
    def has_end_step(self) -> bool:
        """Whether ending the molecule is its own step before the atom type."""
        return self.stop_logit is not None

    def end_log_probs(self, cond: Tensor, num_atoms: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(log P(go on), log P(END))`` of node steps (``end_step`` models); with
        ``num_atoms`` (atoms so far), after the sampling calibration :attr:`end_offset`."""
        assert self.stop_logit is not None
        return self.stop_logit.log_probs(cond, self.end_offset, num_atoms)

    def _stop_latents(
        self, cond: Tensor, ends: Tensor, noise: Tensor | None, num_atoms: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """The END decision's latents (n, 1) and log-probabilities (n,)."""
        log_go, log_end = self.end_log_probs(cond, num_atoms)
        return EndClassifier.encode(log_go, log_end, ends, None if noise is None else noise[:, 0])

    def node_latents(
        self, cond: Tensor, target: Tensor, noise: Tensor | None, num_atoms: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Latents (n, node_latent_dim) and log-determinants (n,) of node steps. With
        ``end_step`` the latent is ``[stop (stop_dim), type (K)]``; an END step has no type,
        and its type part is zero (see :meth:`node_log_prob`). The stop part's
        "log-determinant" is the decision's log-probability (calibrated when ``num_atoms`` is
        given, see :meth:`end_log_probs`)."""
        if not self.has_end_step:
            x = self.dequantize(target, self.num_node_classes, noise)
            return self.node_flow.at(cond).forward(x)
        k = self.stop_dim
        ends = target == self.end_class
        z_stop, ld = self._stop_latents(cond, ends, None if noise is None else noise[:, :k], num_atoms)
        go = (~ends).nonzero(as_tuple=True)[0]
        type_noise = None if noise is None else noise[go, k:]
        x_type = self.dequantize(target[go], self.vocab.size, type_noise)
        z_go, ld_go = self.node_flow.at(cond[go]).forward(x_type)
        z_type = z_stop.new_zeros(len(target), self.vocab.size).index_copy(0, go, z_go)
        return torch.cat([z_stop, z_type], dim=1), ld.index_add(0, go, ld_go)

    def node_log_prob(self, z_node: Tensor, ld_node: Tensor, target: Tensor) -> Tensor:
        """Log-density (nats) of each node step from :meth:`node_latents`."""
        if not self.has_end_step:
            return self._latent_log_prob(z_node) + ld_node
        k = self.stop_dim
        has_type = target != self.end_class
        type_part = self._latent_log_prob(z_node[:, k:]) * has_type
        return type_part + ld_node  # ld_node holds the END decision's log-probability

    def edge_temperature(self, temperature: float) -> float:
        """The bond steps' temperature when the atom steps' is ``temperature``."""
        return temperature * self.bond_temperature

    def _latent_log_prob(self, z: Tensor) -> Tensor:
        """The Gaussian part of a step's log-density: a flow's ``log N(z)``, nothing for a
        classifier's step (its "log-determinant" is already ``log P(class)``)."""
        if self.config.categorical_steps:
            return z.new_zeros(z.shape[:-1])
        return standard_normal_log_prob(z)

    def decode_node(
        self, cond: Tensor, z: Tensor, allow_end: bool, num_atoms: Tensor | None = None
    ) -> Tensor:
        """The atom type (or ``end_class``) that latents ``z`` (n, node_latent_dim) decode to;
        ``num_atoms`` (atoms so far) applies the END calibration (:meth:`end_log_probs`)."""
        if not self.has_end_step:
            x, _ = self.node_flow.at(cond).inverse(z)
            return x.argmax(dim=1) if allow_end else x[:, : self.end_class].argmax(dim=1)
        k = self.stop_dim
        types = self.node_flow.at(cond).inverse(z[:, k:])[0].argmax(dim=1)
        if not allow_end:
            return types
        stop = EndClassifier.decide(z[:, 0], self.end_log_probs(cond, num_atoms)[1])
        return torch.where(stop, torch.full_like(types, self.end_class), types)

    def log_likelihood(
        self, packed: PackedSteps, node_noise: Tensor | None = None, edge_noise: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Per-molecule log-densities (nats) of the node steps and of the edge steps
        (``*_noise``: see :meth:`step_latents`)."""
        z_node, ld_node, z_edge, ld_edge = self.step_latents(packed, node_noise, edge_noise)
        ll_node = self.node_log_prob(z_node, ld_node, packed.node_target)
        ll_edge = self._latent_log_prob(z_edge) + ld_edge
        b = packed.num_molecules
        per_node = segment_sum(ll_node, packed.node_mol, b)
        per_edge = segment_sum(ll_edge, packed.edge_mol, b)
        return per_node, per_edge

    def loss_terms(self, packed: PackedSteps) -> dict[str, Tensor]:
        """Mean negative log-likelihood per molecule (``loss``) and its two parts."""
        per_node, per_edge = self.log_likelihood(packed)
        node_nll, edge_nll = -per_node.mean(), -per_edge.mean()
        return {"loss": node_nll + edge_nll, "node_nll": node_nll, "edge_nll": edge_nll}
