"""GraphAF's packed teacher-forced likelihood equals a step-by-step computation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.graph import apply_order, build_vocabulary, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import (
    GraphAF,
    GraphAFConfig,
    edge_step_pairs,
    pack_steps,
    standard_normal_log_prob,
)
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
    for i in range(n + 1):
        _, g = embed(i, bonds_done)
        target = int(graph.atoms[i]) if i < n else model.end_class
        x = torch.nn.functional.one_hot(torch.tensor([target]), model.num_node_classes).float()
        x = x + model.config.dequantization * node_noise[i : i + 1]
        s, t = model.node_flow.parameters_from(model.node_first(g))
        z, ld = model.node_flow.forward_transform(x, s, t)
        total += float(standard_normal_log_prob(z) + ld)
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
                capacity = model.max_valence.tolist()
                room = [
                    min(3, capacity[graph.atoms[a]] - sum(o for *ends, o in bonds_done if a in ends))
                    for a in (i, int(j))
                ]
                pre = pre + model.edge_first_room.weight[4 * room[0] + room[1]]
            target = table.get((i, int(j)), 0)
            x = torch.nn.functional.one_hot(torch.tensor([target]), 4).float()
            x = x + model.config.dequantization * edge_noise[edge_k : edge_k + 1]
            s, t = model.edge_flow.parameters_from(pre)
            z, ld = model.edge_flow.forward_transform(x, s, t)
            total += float(standard_normal_log_prob(z) + ld)
            edge_k += 1
            if target:
                bonds_done.append((i, int(j), target))
    return total


@pytest.mark.parametrize("valence_features", [True, False])
def test_packed_likelihood_matches_the_step_by_step_definition(valence_features: bool) -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:8]]
    vocab = build_vocabulary(mols)
    model = GraphAF(vocab, dataclasses.replace(TINY, valence_features=valence_features))
    assert (model.edge_first_room is not None) == valence_features
    _randomize(model)
    graphs = _ordered(mols, vocab)
    packed = pack_steps(graphs, vocab.edge_window, model.end_class)
    node_noise = torch.rand(packed.node_target.numel(), model.num_node_classes)
    edge_noise = torch.rand(packed.edge_target.numel(), 4)
    with torch.no_grad():
        z_n, ld_n, z_e, ld_e = model.step_latents(packed, node_noise, edge_noise)
        ll_n = standard_normal_log_prob(z_n) + ld_n
        ll_e = standard_normal_log_prob(z_e) + ld_e
        per_mol = torch.zeros(len(graphs)).index_add(0, packed.node_mol, ll_n)
        per_mol = per_mol.index_add(0, packed.edge_mol, ll_e)
        n_at = e_at = 0
        for k, graph in enumerate(graphs):
            n_steps = len(graph.atoms) + 1
            e_steps = len(edge_step_pairs(len(graph.atoms), vocab.edge_window)[0])
            expected = _step_by_step_log_likelihood(
                model, graph, node_noise[n_at : n_at + n_steps], edge_noise[e_at : e_at + e_steps]
            )
            n_at, e_at = n_at + n_steps, e_at + e_steps
            assert abs(float(per_mol[k]) - expected) < 1e-3 * max(1.0, abs(expected))


def test_states_are_shared_between_steps_and_nothing_is_padded() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    vocab = build_vocabulary(mols)
    graphs = _ordered(mols, vocab)
    packed = pack_steps(graphs, vocab.edge_window, vocab.size)
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
    packed = pack_steps(_ordered(mols, vocab), vocab.edge_window, model.end_class)
    _, ld_n, _, _ = model.step_latents(packed)
    assert torch.all(ld_n == 0)  # zero-initialized conditioners: x -> x
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        loss = model.loss_terms(packed)["loss"]
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.loss_terms(packed)["loss"].detach()) < 0.7 * first
