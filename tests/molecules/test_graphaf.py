"""GraphAF's packed teacher-forced likelihood equals a step-by-step computation."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.categorical_step import CategoricalSteps
from flowstudio.molecules.graph import apply_order, build_vocabulary, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF, GraphAFConfig
from flowstudio.molecules.packing import edge_step_pairs, pack_steps
from flowstudio.molecules.ring_features import RING_LEVELS
from tests.molecules.test_graph import SMILES

TINY = GraphAFConfig(hidden=16, rgcn_layers=2, flow_layers=3, st_hidden=16)


def _ordered(mols, vocab, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for mol in mols:
        graph = mol_to_graph(mol, vocab)
        out.append(apply_order(graph, fitting_order(graph, vocab.edge_window, rng)))
    return out


def _randomize(model: GraphAF) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


def _ring_level(bonds_done: list[tuple[int, int, int]], i: int, j: int, fusing: bool) -> int:
    """The ring feature of bond step (i, j) from scratch with networkx: the distance level
    (0: not connected, else d capped at 9) times 4, plus 2 if i and 1 if j is in a ring
    (on a shortest path between the ends of a bond that closed a ring when it was added);
    with ``fusing``, that times 2 plus 1 if an atom on a shortest i-j path is in a ring."""
    graph, in_ring = nx.Graph(), set()
    graph.add_nodes_from([i, j])
    for a, b, _ in bonds_done:
        if graph.has_node(a) and graph.has_node(b) and nx.has_path(graph, a, b):
            in_ring.update(v for path in nx.all_shortest_paths(graph, a, b) for v in path)
        graph.add_edge(a, b)
    connected = nx.has_path(graph, i, j)
    level = min(nx.shortest_path_length(graph, i, j), 9) if connected else 0
    index = 4 * level + 2 * (i in in_ring) + (j in in_ring)
    if not fusing:
        return index
    touches = connected and any(v in in_ring for path in nx.all_shortest_paths(graph, i, j) for v in path)
    return 2 * index + touches


def _step_log_prob(stack, pre: torch.Tensor, x: torch.Tensor) -> float:
    """One step's ``log N(z; 0, I) + log|det dz/dx|``, ``z = f_L(... f_1(Q x))``, written out
    from the stack's weights alone (dense Givens matrices, one layer at a time, torch's own
    normal density): the step flow as it was defined before it moved into the flow library.
    A classifier's step (``categorical_steps``) is the log-softmax of its class, through its
    hidden layers."""
    h, y, d = torch.relu(pre)[0], x[0], x.shape[-1]
    if isinstance(stack, CategoricalSteps):
        for layer in stack.hidden:
            h = torch.relu(layer.weight @ h + layer.bias)
        logits = stack.readout.weight @ h + stack.readout.bias
        return float(torch.distributions.Categorical(logits=logits).log_prob(y.argmax()))
    if stack.angles_out is not None:
        angles = stack.angles_out.weight @ h + stack.angles_out.bias
        pairs = [(p, q) for p in range(d) for q in range(p + 1, d)]
        for (p, q), angle in zip(pairs, angles, strict=True):  # Q = G_last ... G_first
            givens = torch.eye(d)
            givens[p, p] = givens[q, q] = torch.cos(angle)
            givens[p, q], givens[q, p] = -torch.sin(angle), torch.sin(angle)
            y = givens @ y
    logdet, width = 0.0, stack.hidden
    for layer in range(stack.num_layers):
        out = h[layer * width : (layer + 1) * width] @ stack.out_weight[layer] + stack.out_bias[layer]
        scale = stack.scale_bound * torch.tanh(out[:d] / stack.scale_bound)
        y = y * scale.exp() + out[d:]
        logdet += float(scale.sum())
    return float(torch.distributions.Normal(0.0, 1.0).log_prob(y).sum()) + logdet


def _step_by_step_log_likelihood(model: GraphAF, graph, node_noise, edge_noise) -> float:
    """The paper's definition, one partial graph per step, nothing shared."""
    window, n = model.vocab.edge_window, len(graph.atoms)

    def embed(num_atoms, bonds):
        types = torch.as_tensor(graph.atoms[:num_atoms])
        b = torch.as_tensor(np.asarray(bonds, np.int64).reshape(-1, 3))
        src = torch.cat([b[:, 1], b[:, 0]])
        dst = torch.cat([b[:, 0], b[:, 1]])
        rel = torch.cat([b[:, 2], b[:, 2]]) - 1
        nodes = model.rgcn(types, src, dst, rel) if num_atoms else torch.zeros(0, model.config.hidden)
        return nodes, nodes.sum(0, keepdim=True) if num_atoms else torch.zeros(1, model.config.hidden)

    total = 0.0
    ei, ej = edge_step_pairs(n, window)
    bonds_done: list[tuple[int, int, int]] = []
    edge_k = 0
    table = {(int(i), int(j)): int(t) for i, j, t in graph.bonds}
    capacity = model.max_valence.tolist()

    def valence_left(atom: int) -> int:
        return capacity[graph.atoms[atom]] - sum(o for *ends, o in bonds_done if atom in ends)

    for i in range(n + 1):
        nodes, g = embed(i, bonds_done)
        target = int(graph.atoms[i]) if i < n else model.end_class
        pre = model.node_first(g)
        if model.node_first_open_atoms is not None:  # open: from the parent of atom i - 1 on
            frontier = min((b for a, b, _ in bonds_done if a == i - 1), default=0)
            if i >= 1:
                pre = pre + model.node_first_open_atoms(nodes[frontier:i].sum(0, keepdim=True))
            open_valence = sum(valence_left(a) for a in range(frontier, i))
            pre = pre + model.node_first_open_valence.weight[min(open_valence, 7)]
        if model.node_first_size is not None:  # i atoms so far
            pre = pre + model.node_first_size.weight[i]
        c, u = model.config.dequantization, node_noise[i : i + 1]
        if not model.has_end_step:  # one step over the atom types and END
            x = torch.nn.functional.one_hot(torch.tensor([target]), model.num_node_classes).float()
            total += _step_log_prob(model.node_flow, pre, x + c * u)
        else:  # go on or END, then (going on) the atom type
            ends = int(target == model.end_class)
            k = model.stop_dim
            # a Bernoulli: the decision's probability
            p_end = float(torch.sigmoid(model.stop_logit(torch.relu(pre))))
            total += math.log(p_end if ends else 1 - p_end)
            if not ends:
                x = torch.nn.functional.one_hot(torch.tensor([target]), model.vocab.size).float()
                total += _step_log_prob(model.node_flow, pre, x + c * u[:, k:])
        if i == n:
            break
        for j in ej[ei == i]:
            nodes, g = embed(i + 1, bonds_done)
            cond = torch.cat([g, nodes[i : i + 1], nodes[j : j + 1]], dim=1)
            weight = torch.cat(
                [model.edge_first_graph.weight, model.edge_first_i.weight, model.edge_first_j.weight], dim=1
            )
            pre = cond @ weight.T + model.edge_first_graph.bias + model.edge_first_offset.weight[i - 1 - j]
            if model.edge_first_room is not None:  # valence left at i and j, counted from scratch
                room = [min(3, valence_left(a)) for a in (i, int(j))]
                pre = pre + model.edge_first_room.weight[4 * room[0] + room[1]]
            if model.edge_first_order is not None:  # BFS: j expanded before i-1's parent?
                parent_prev = min((b for a, b, _ in bonds_done if a == i - 1), default=0)
                closed = int(j) < parent_prev
                has_bond = any(a == i for a, _, _ in bonds_done)
                pre = pre + model.edge_first_order.weight[2 * closed + has_bond]
            if model.edge_first_ring is not None:  # networkx: the ring the bond would close
                level = _ring_level(bonds_done, i, int(j), model.config.fusing_feature)
                pre = pre + model.edge_first_ring.weight[level]
            target = table.get((i, int(j)), 0)
            x = torch.nn.functional.one_hot(torch.tensor([target]), 4).float()
            x = x + model.config.dequantization * edge_noise[edge_k : edge_k + 1]
            total += _step_log_prob(model.edge_flow, pre, x)
            edge_k += 1
            if target:
                bonds_done.append((i, int(j), target))
    return total


@pytest.mark.parametrize(
    "additions",
    [
        (True, True, True, True, True, True),
        (True, True, True, True, True, False),
        (True, True, True, True, False, True),
        (False, False, False, False, False, False),
        (True, False, True, False, True, False),
        (False, True, False, True, False, True),
    ],
)
def test_packed_likelihood_matches_the_step_by_step_definition(
    additions: tuple[bool, bool, bool, bool, bool, bool],
) -> None:
    """With and without each of FlowStudio's additions to the paper's model."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:8]]
    vocab = build_vocabulary(mols)
    valence, covariance, order, end_step, size, ring = additions
    config = dataclasses.replace(
        TINY,
        valence_features=valence,
        full_covariance=covariance,
        order_features=order,
        end_step=end_step,
        size_feature=size,
        ring_features=ring,
    )
    _assert_likelihood_matches_definition(GraphAF(vocab, config), mols, config, additions)


def test_the_fusing_flag_matches_the_step_by_step_definition() -> None:
    """``fusing_feature``: the ring feature also says whether the ring touches a ring; the
    molecules include fused and spiro systems, so the flag is 1 at some steps."""
    mols = [Chem.MolFromSmiles(s) for s in [*SMILES[:6], "c1ccc2[nH]ccc2c1", "C1CCC2(CC1)CCC2"]]
    config = dataclasses.replace(TINY, fusing_feature=True)
    model = GraphAF(build_vocabulary(mols), config)
    assert model.edge_first_ring is not None and model.edge_first_ring.num_embeddings == RING_LEVELS
    _assert_likelihood_matches_definition(model, mols, config, (True,) * 6)


@pytest.mark.parametrize("depth", [1, 2])
def test_categorical_likelihood_matches_the_step_by_step_definition(depth: int) -> None:
    """Atom and bond steps as classifiers (read out of the conditioner's layer, or through one
    more hidden layer): the packed likelihood is their cross-entropy."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:8]]
    config = dataclasses.replace(TINY, categorical_steps=True, classifier_layers=depth)
    model = GraphAF(build_vocabulary(mols), config)
    assert isinstance(model.edge_flow, CategoricalSteps) and isinstance(model.node_flow, CategoricalSteps)
    assert len(model.edge_flow.hidden) == len(model.node_flow.hidden) == depth - 1
    per_mol = _assert_likelihood_matches_definition(model, mols, config, (True,) * 6)
    assert bool((per_mol < 0).all())  # probabilities, not densities: a log-likelihood below 0


def _assert_likelihood_matches_definition(model, mols, config, additions) -> torch.Tensor:
    valence, covariance, order, end_step, size, ring = additions
    vocab = model.vocab
    assert (model.edge_first_ring is not None) == ring
    assert (model.edge_first_room is not None) == valence
    if not config.categorical_steps:
        assert (model.edge_flow.angles_out is not None) == covariance
    assert (model.edge_first_order is not None) == order
    assert (model.stop_logit is not None) == end_step
    assert (model.node_first_size is not None) == size
    _randomize(model)
    graphs = _ordered(mols, vocab)
    packed = pack_steps(graphs, vocab)
    node_noise = torch.rand(packed.node_target.numel(), model.node_latent_dim)
    edge_noise = torch.rand(packed.edge_target.numel(), 4)
    with torch.no_grad():
        per_node, per_edge = model.log_likelihood(packed, node_noise, edge_noise)
        per_mol = per_node + per_edge
        n_at = e_at = 0
        for k, graph in enumerate(graphs):
            n_steps = len(graph.atoms) + 1
            e_steps = len(edge_step_pairs(len(graph.atoms), vocab.edge_window)[0])
            expected = _step_by_step_log_likelihood(
                model, graph, node_noise[n_at : n_at + n_steps], edge_noise[e_at : e_at + e_steps]
            )
            n_at, e_at = n_at + n_steps, e_at + e_steps
            assert abs(float(per_mol[k]) - expected) < 1e-3 * max(1.0, abs(expected))
    return per_mol


def test_states_are_shared_between_steps_and_nothing_is_padded() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    vocab = build_vocabulary(mols)
    graphs = _ordered(mols, vocab)
    packed = pack_steps(graphs, vocab)
    n_atoms = sum(len(g.atoms) for g in graphs)
    n_bonds = sum(len(g.bonds) for g in graphs)
    assert packed.num_states == n_atoms + n_bonds + len(graphs)  # one per atom, bond, and empty
    assert packed.node_target.numel() == n_atoms + len(graphs)  # every atom and one END each
    assert int((packed.edge_target > 0).sum()) == n_bonds
    # each state holds the bonds added before it: the directed edges are twice their sum
    assert packed.edge_src.numel() % 2 == 0 and packed.edge_rel.max() <= 2


def test_training_lowers_the_loss_and_untrained_flows_are_the_identity() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:12]]
    vocab = build_vocabulary(mols)
    model = GraphAF(vocab, TINY)
    packed = pack_steps(_ordered(mols, vocab), vocab)
    _, ld_n, _, _ = model.step_latents(packed)
    # Zero-initialized conditioners: the flows are x -> x (log-determinant 0), and the END
    # classifier says 1/2 (its decision's log-probability is part of the node steps' term).
    assert model.stop_logit is not None
    assert torch.allclose(ld_n, torch.full_like(ld_n, -math.log(2)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        loss = model.loss_terms(packed)["loss"]
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.loss_terms(packed)["loss"].detach()) < 0.7 * first


def test_a_saved_model_scores_the_same_after_loading(tmp_path) -> None:
    """The state dict of a seeded model (every addition on) round-trips through a
    ``weights_only`` file into a fresh model, keeping its parameter names and its exact
    log-likelihood; the step-by-step test above pins that likelihood to the definition."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:6]]
    vocab = build_vocabulary(mols)
    torch.manual_seed(7)
    model = GraphAF(vocab, TINY)
    _randomize(model)
    packed = pack_steps(_ordered(mols, vocab), vocab)
    generator = torch.Generator().manual_seed(3)
    node_noise = torch.rand(packed.node_target.numel(), model.node_latent_dim, generator=generator)
    edge_noise = torch.rand(packed.edge_target.numel(), 4, generator=generator)
    with torch.no_grad():
        expected = model.log_likelihood(packed, node_noise, edge_noise)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    fresh = GraphAF(vocab, TINY)
    fresh.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    assert {"stop_logit.weight", "node_flow.out_weight", "edge_flow.angles_out.weight"} <= set(
        fresh.state_dict()
    )
    with torch.no_grad():
        got = fresh.log_likelihood(packed, node_noise, edge_noise)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b)
