"""Conjugation features of bond steps: pi bonds, the closed ring's interior, aromatic rings."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.conjugation_features import (
    ConjugationTracker,
    conjugation_index,
    edge_step_conjugation,
    lone_pair_donors,
)
from flowstudio.molecules.graph import apply_order, bfs_order, build_vocabulary, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode
from flowstudio.molecules.packing import edge_step_pairs
from flowstudio.molecules.ring_features import RingTracker, distance_snapshots
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize

# Aromatic (benzene, pyridine, pyrrole, furan, indole, a biphenyl), partly saturated
# (cyclopentadiene, a dihydropyridine, a quinone) and saturated rings, and chains.
MOLECULES = [
    "c1ccccc1",
    "c1ccncc1",
    "c1cc[nH]c1",
    "c1ccoc1",
    "c1ccc2[nH]ccc2c1",
    "c1ccc(-c2ccccc2)cc1",
    "C1=CCC=C1",
    "C1=CNC=CC1",
    "O=C1C=CC(=O)C=C1",
    "C1CCCCC1",
    "C=CC=CC=O",
    "CC(=O)NN",
]


def _ordered(smiles: str, seed: int = 3):
    mol = Chem.MolFromSmiles(smiles)
    vocab = build_vocabulary([mol])
    graph = mol_to_graph(mol, vocab)
    return vocab, apply_order(graph, bfs_order(graph, np.random.default_rng(seed)))


def _from_scratch(atoms, donor, bonds_done, i: int, j: int) -> tuple[int, ...]:
    """networkx, one partial graph: the arguments of conjugation_index at step (i, j)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(atoms)))
    pi = [0] * len(atoms)
    aromatic: set[int] = set()
    for a, b, klass in bonds_done:
        pi[a] += klass - 1
        pi[b] += klass - 1
        if nx.has_path(graph, a, b):
            ring = {v for path in nx.all_shortest_paths(graph, a, b) for v in path}
            flat = [v for v in ring if pi[v] == 0]
            size = nx.shortest_path_length(graph, a, b) + 1
            if not flat or (size == 5 and len(flat) == 1 and donor[atoms[flat[0]]]):
                aromatic |= ring
        graph.add_edge(a, b)
    saturated = donors = connected = 0
    if nx.has_path(graph, i, j):
        connected = 1
        interior = {v for path in nx.all_shortest_paths(graph, i, j) for v in path} - {i, j}
        saturated = sum(pi[v] == 0 and not donor[atoms[v]] for v in interior)
        donors = sum(pi[v] == 0 and bool(donor[atoms[v]]) for v in interior)
    return pi[i], pi[j], saturated, donors, connected, int(i in aromatic), int(j in aromatic)


@pytest.mark.parametrize("smiles", MOLECULES)
def test_teacher_forced_features_equal_networkx_on_partial_graphs(smiles: str) -> None:
    vocab, ordered = _ordered(smiles)
    n, donor = len(ordered.atoms), lone_pair_donors(vocab)
    ei, ej = edge_step_pairs(n, n)
    got = edge_step_conjugation(
        ordered.atoms, ordered.bonds, ei, ej, donor, distance_snapshots(n, ordered.bonds)
    )
    bonds = [tuple(int(v) for v in row) for row in ordered.bonds]
    for k, (i, j) in enumerate(zip(ei.tolist(), ej.tolist(), strict=True)):
        before = [b for b in bonds if b[:2] < (i, j)]
        assert tuple(int(part[k]) for part in got) == _from_scratch(ordered.atoms, donor, before, i, j)


def _aromatic_after_all_bonds(smiles: str) -> list[int]:
    vocab, ordered = _ordered(smiles)
    n = len(ordered.atoms)
    ei, ej = np.array([n]), np.array([0])  # a step after every bond: a fake atom n
    atoms = np.concatenate([ordered.atoms, [0]])
    snapshots = distance_snapshots(n + 1, ordered.bonds)
    aromatic = []
    for v in range(n):  # the flag of atom v read from a step (n, v)
        part = edge_step_conjugation(atoms, ordered.bonds, ei, ej + v, lone_pair_donors(vocab), snapshots)
        aromatic.append(int(part[6][0]))
    return aromatic


def test_aromatic_rings_are_told_from_partly_saturated_ones() -> None:
    for smiles in ("c1ccccc1", "c1ccncc1", "c1cc[nH]c1", "c1ccoc1", "c1ccc2[nH]ccc2c1"):
        assert all(_aromatic_after_all_bonds(smiles)), smiles
    for smiles in ("C1=CCC=C1", "C1=CNC=CC1", "C1CCCCC1", "C1=CCCC=C1"):
        assert not any(_aromatic_after_all_bonds(smiles)), smiles


def test_closing_a_benzene_ring_sees_an_alternating_interior() -> None:
    vocab, ordered = _ordered("c1ccccc1")
    n = len(ordered.atoms)
    closing = [(int(i), int(j)) for i, j, _ in ordered.bonds if int(i) == n - 1][-1]
    ei, ej = np.array([closing[0]]), np.array([closing[1]])
    snapshots = distance_snapshots(n, ordered.bonds)
    pi_i, pi_j, saturated, donors, connected, _, _ = edge_step_conjugation(
        ordered.atoms, ordered.bonds, ei, ej, lone_pair_donors(vocab), snapshots
    )
    assert (int(connected[0]), int(saturated[0]), int(donors[0])) == (1, 0, 0)
    # the last bond is double exactly when its two ends have no double bond yet
    klass = {(int(a), int(b)): int(c) for a, b, c in ordered.bonds}[closing]
    assert (int(pi_i[0]) == 0 and int(pi_j[0]) == 0) == (klass == 2)


def test_generation_tracker_equals_teacher_forcing() -> None:
    mols = [Chem.MolFromSmiles(s) for s in MOLECULES]
    vocab = build_vocabulary(mols)
    donor = lone_pair_donors(vocab)
    for k, mol in enumerate(mols):
        graph = mol_to_graph(mol, vocab)
        ordered = apply_order(graph, bfs_order(graph, np.random.default_rng(k)))
        n = len(ordered.atoms)
        ei, ej = edge_step_pairs(n, n)
        expected = conjugation_index(
            *edge_step_conjugation(
                ordered.atoms, ordered.bonds, ei, ej, donor, distance_snapshots(n, ordered.bonds)
            )
        )
        rings = RingTracker(1, n, torch.device("cpu"))
        tracker = ConjugationTracker(1, n, donor, torch.device("cpu"))
        atoms = torch.from_numpy(ordered.atoms).unsqueeze(0)
        table = {(int(a), int(b)): int(c) for a, b, c in ordered.bonds}
        one = torch.zeros(1, dtype=torch.long)
        for step, (i, j) in enumerate(zip(ei.tolist(), ej.tolist(), strict=True)):
            assert int(tracker.index(one, i, j, rings.distance, atoms)[0]) == int(expected[step])
            if (i, j) in table:
                tracker.add_bonds(one, i, j, torch.tensor([table[(i, j)]]), rings.distance, atoms)
                rings.add_bonds(one, i, j)


def test_decoding_with_conjugation_features_reconstructs_molecules() -> None:
    """Generation and teacher forcing see the same features, or a latent would decode to
    another molecule."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES + MOLECULES]
    model = GraphAF(build_vocabulary(mols), dataclasses.replace(TINY, conjugation_features=True))
    assert model.edge_first_conjugation is not None
    assert float(model.edge_first_conjugation.weight.detach().abs().sum()) == 0  # untrained: the old model
    torch.manual_seed(0)
    _randomize(model)
    decoded = decode_latents(model, encode(model, mols, seed=2)).mols
    assert [Chem.MolToSmiles(m) for m in decoded] == [Chem.MolToSmiles(m) for m in mols]


def test_presets_train_with_them_and_runs_from_before_load_without() -> None:
    from flowstudio.molecules.task import MoleculeTask
    from tests.molecules.test_task import SMILES as TASK_SMILES
    from tests.molecules.test_task import TINY as TASK_TINY

    for preset in ("quick", "full"):
        task = MoleculeTask(TASK_SMILES, preset, TASK_TINY)
        assert task.model.edge_first_conjugation is not None
        again = MoleculeTask.from_config(task.config())
        again.model.load_state_dict(task.model.state_dict())
        assert again.model.edge_first_conjugation is not None
    old = task.config()
    del old["values"]["conjugation_features"]
    state = {k: v for k, v in task.model.state_dict().items() if "conjugation" not in k}
    restored = MoleculeTask.from_config(old)
    restored.model.load_state_dict(state)  # strict: the old run's weights, nothing missing
    assert restored.model.edge_first_conjugation is None
