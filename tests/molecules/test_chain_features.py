"""The open-chain feature of atom steps: double bonds between C and N not yet in a ring."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.chain_features import ChainTracker, chain_types, node_step_chains
from flowstudio.molecules.graph import apply_order, bfs_order, build_vocabulary, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode
from flowstudio.molecules.packing import pack_steps
from flowstudio.molecules.ring_features import RingTracker, distance_snapshots
from tests.molecules.test_conjugation_features import MOLECULES
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize

# Open chains (a diene, an imine, an azo, an enamide), closed rings with and without an
# exocyclic double bond, carbonyls that never count, and fused rings.
CHAINS = [
    "C=CC=CC",
    "CC=NC",
    "CN=NC",
    "C=CC(=O)NC",
    "C=C1CCCCC1",
    "CC(=O)C1=CC=CC1",
    "O=C1CCCC1=O",
    "c1ccc2ccccc2c1",
    "c1ccc(C=Cc2ccccc2)cc1",
]


def _ordered(smiles: str, seed: int):
    mol = Chem.MolFromSmiles(smiles)
    vocab = build_vocabulary([mol])
    graph = mol_to_graph(mol, vocab)
    return vocab, apply_order(graph, bfs_order(graph, np.random.default_rng(seed)))


def _counts(vocab, ordered) -> np.ndarray:
    snapshots = distance_snapshots(len(ordered.atoms), ordered.bonds)
    return node_step_chains(ordered.atoms, ordered.bonds, chain_types(vocab), snapshots)


def _from_scratch(vocab, atoms: np.ndarray, bonds: np.ndarray, k: int) -> int:
    """networkx, one partial graph (atoms 0..k-1): its open double bonds, a ring atom being
    one on a shortest path between the ends of a bond that closed a cycle when added."""
    graph, on_ring = nx.Graph(), set()
    graph.add_nodes_from(range(k))
    for a, b, _klass in bonds:
        if a >= k:
            break
        if nx.has_path(graph, a, b):
            on_ring |= {v for path in nx.all_shortest_paths(graph, a, b) for v in path}
        graph.add_edge(a, b)
    chain = {i for i in range(k) if vocab.atoms[atoms[i]][0] in ("C", "N")}
    return sum(
        1
        for a, b, klass in bonds
        if a < k and klass == 2 and a in chain and b in chain and not (a in on_ring and b in on_ring)
    )


@pytest.mark.parametrize("smiles", CHAINS + MOLECULES)
def test_teacher_forced_counts_equal_networkx_on_partial_graphs(smiles: str) -> None:
    for seed in (0, 1, 2):
        vocab, ordered = _ordered(smiles, seed)
        bonds = ordered.bonds.tolist()
        expected = [_from_scratch(vocab, ordered.atoms, bonds, k) for k in range(len(ordered.atoms) + 1)]
        assert _counts(vocab, ordered).tolist() == expected


@pytest.mark.parametrize(
    ("smiles", "at_end"),
    [("C=CC=CC", 2), ("CC=NC", 1), ("CN=NC", 1), ("C=CC(=O)NC", 1), ("C=C1CCCCC1", 1),
     ("O=C1CCCC1=O", 0), ("c1ccc2ccccc2c1", 0), ("CC(=O)C1=CC=CC1", 0)],
)
def test_a_complete_molecule_counts_its_acyclic_double_bonds(smiles: str, at_end: int) -> None:
    """At END: acyclic C=C, C=N, N=N count, carbonyls and ring bonds (Kekulé) do not."""
    counts = _counts(*_ordered(smiles, 0))
    assert int(counts[-1]) == at_end
    assert int(counts[0]) == 0


def test_a_half_built_benzene_ring_is_an_open_chain() -> None:
    counts = _counts(*_ordered("c1ccccc1", 0))
    assert counts[-1] == 0 and counts.max() >= 1


def test_generation_tracker_equals_teacher_forcing() -> None:
    mols = [Chem.MolFromSmiles(s) for s in CHAINS + MOLECULES]
    vocab = build_vocabulary(mols)
    mask = chain_types(vocab)
    for k, mol in enumerate(mols):
        graph = mol_to_graph(mol, vocab)
        ordered = apply_order(graph, bfs_order(graph, np.random.default_rng(k)))
        n = len(ordered.atoms)
        expected = node_step_chains(ordered.atoms, ordered.bonds, mask, distance_snapshots(n, ordered.bonds))
        rings = RingTracker(1, n, torch.device("cpu"))
        tracker = ChainTracker(1, n, mask, torch.device("cpu"))
        atoms = torch.from_numpy(ordered.atoms).unsqueeze(0)
        one = torch.zeros(1, dtype=torch.long)
        seen = [int(tracker.count(one, rings.in_ring)[0])]
        for i in range(n):
            for a, b, klass in ordered.bonds.tolist():
                if a == i:
                    tracker.add_bonds(one, a, b, torch.tensor([klass]), atoms)
                    rings.add_bonds(one, a, b)
            seen.append(int(tracker.count(one, rings.in_ring)[0]))
        assert seen == expected.tolist()


def test_packed_steps_carry_the_counts_of_each_molecule() -> None:
    mols = [Chem.MolFromSmiles(s) for s in CHAINS]
    vocab = build_vocabulary(mols)
    graphs = [mol_to_graph(m, vocab) for m in mols]
    ordered = [apply_order(g, bfs_order(g, np.random.default_rng(0))) for g in graphs]
    packed = pack_steps(ordered, vocab)
    expected = np.concatenate([_counts(vocab, o) for o in ordered])
    assert packed.node_chain.tolist() == expected.tolist()


def test_decoding_with_the_chain_feature_reconstructs_molecules() -> None:
    """Generation and teacher forcing see the same counts, or a latent would decode to
    another molecule."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES + CHAINS]
    model = GraphAF(build_vocabulary(mols), dataclasses.replace(TINY, chain_feature=True))
    assert model.node_first_chain is not None
    assert float(model.node_first_chain.weight.detach().abs().sum()) == 0  # untrained: the old model
    torch.manual_seed(0)
    _randomize(model)
    decoded = decode_latents(model, encode(model, mols, seed=2)).mols
    assert [Chem.MolToSmiles(m) for m in decoded] == [Chem.MolToSmiles(m) for m in mols]


def test_the_option_trains_and_runs_from_before_load_without() -> None:
    from flowstudio.molecules.task import MoleculeTask
    from tests.molecules.test_task import SMILES as TASK_SMILES
    from tests.molecules.test_task import TINY as TASK_TINY

    task = MoleculeTask(TASK_SMILES, "quick", {**TASK_TINY, "chain_feature": True})
    assert task.model.node_first_chain is not None
    torch.manual_seed(0)
    _randomize(task.model)  # at initialization the read-outs are zero: no gradient reaches it
    loss = task.training_step(0)["loss"]
    loss.backward()
    assert task.model.node_first_chain.weight.grad is not None
    assert float(task.model.node_first_chain.weight.grad.abs().sum()) > 0
    old = task.config()
    del old["values"]["chain_feature"]
    state = {k: v for k, v in task.model.state_dict().items() if "chain" not in k}
    restored = MoleculeTask.from_config(old)
    restored.model.load_state_dict(state)  # strict: the old run's weights, nothing missing
    assert restored.model.node_first_chain is None
