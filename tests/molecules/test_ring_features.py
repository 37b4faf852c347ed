"""Ring features (shortest paths in partial graphs) and the ring check at generation."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.chemistry_check import (
    RingCheck,
    allowed_ring_sizes,
    format_ring_sizes,
    parse_ring_sizes,
)
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import apply_order, bfs_order, build_vocabulary, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.packing import edge_step_pairs
from flowstudio.molecules.ring_features import FAR, RingTracker, edge_step_rings
from flowstudio.molecules.rings import ring_sizes
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize

# Fused, bridged, spiro and chain molecules, and a macrocycle (12 atoms).
RINGS = ["c1ccc2ccccc2c1", "C1CC2CCC1C2", "C1CCC2(CC1)CCC2", "CCCCO", "C1CCCCCCCCCCC1", "c1ccc2[nH]ccc2c1"]


def _from_scratch(num_atoms: int, bonds: list[tuple[int, int]], i: int, j: int) -> tuple[int, int, int, int]:
    """networkx: d(i, j) (FAR when not connected), the ring flags of i and j, where an atom
    is in a ring once a bond closed a ring through one of its shortest paths, and whether an
    atom on a shortest i-j path is in a ring (the ring a bond i-j would close touches one)."""
    graph, in_ring = nx.Graph(), set()
    graph.add_nodes_from(range(num_atoms))
    for a, b in bonds:
        if nx.has_path(graph, a, b):
            in_ring.update(v for path in nx.all_shortest_paths(graph, a, b) for v in path)
        graph.add_edge(a, b)
    if not nx.has_path(graph, i, j):
        return FAR, int(i in in_ring), int(j in in_ring), 0
    touches = any(v in in_ring for path in nx.all_shortest_paths(graph, i, j) for v in path)
    return nx.shortest_path_length(graph, i, j), int(i in in_ring), int(j in in_ring), int(touches)


@pytest.mark.parametrize("smiles", RINGS)
def test_teacher_forced_ring_features_equal_networkx_on_partial_graphs(smiles: str) -> None:
    mol = Chem.MolFromSmiles(smiles)
    vocab = build_vocabulary([mol])
    graph = mol_to_graph(mol, vocab)
    ordered = apply_order(graph, bfs_order(graph, np.random.default_rng(3)))
    n = len(ordered.atoms)
    ei, ej = edge_step_pairs(n, n)  # every earlier atom is a candidate
    features = edge_step_rings(n, ordered.bonds, ei, ej)
    bonds = [(int(a), int(b)) for a, b, _ in ordered.bonds]
    for k, (i, j) in enumerate(zip(ei.tolist(), ej.tolist(), strict=True)):
        before = [(a, b) for a, b in bonds if (a, b) < (i, j)]
        assert tuple(int(f[k]) for f in features) == _from_scratch(n, before, i, j), (smiles, i, j)
    if Chem.GetSSSR(mol) and len(Chem.GetSSSR(mol)) > 1:  # a second ring closes onto the first
        assert features[3].any()


def test_incremental_distances_equal_recomputation_during_generation() -> None:
    """The tracker's update per bond equals all-pairs shortest paths computed afresh."""
    rng = np.random.default_rng(0)
    n, batch = 12, 3
    tracker = RingTracker(batch, n, torch.device("cpu"))
    bonds: list[list[tuple[int, int]]] = [[] for _ in range(batch)]
    for i in range(1, n):
        for j in range(i):
            chosen = torch.from_numpy(np.flatnonzero(rng.random(batch) < 0.25))
            for m in chosen.tolist():
                bonds[m].append((i, j))
            tracker.add_bonds(chosen, i, j)
    for m in range(batch):
        graph = nx.Graph(bonds[m])
        graph.add_nodes_from(range(n))
        lengths = dict(nx.all_pairs_shortest_path_length(graph))
        expected = [[lengths[u].get(v, FAR) for v in range(n)] for u in range(n)]
        assert tracker.distance[m].tolist() == expected
        ring = [_from_scratch(n, bonds[m], v, v)[1] for v in range(n)]
        assert tracker.in_ring[m].tolist() == ring
        for i in range(n):  # the pair features the bond steps see, "touches a ring" included
            for j in range(i):
                pair = tuple(int(f[0]) for f in tracker.pair(torch.tensor([m]), i, j))
                assert pair == _from_scratch(n, bonds[m], i, j), (m, i, j)


def test_ring_check_rejects_a_nine_ring_and_allows_a_six_ring() -> None:
    check = RingCheck(parse_ring_sizes("3,5-7"), max_atoms=20, device=torch.device("cpu"))
    tracker = RingTracker(2, 20, torch.device("cpu"))
    both = torch.arange(2)
    for k in range(1, 9):  # two chains: 0-1-...-8
        tracker.add_bonds(both, k, k - 1)
    distance = torch.stack([tracker.pair(both[:1], 8, 0)[0][0], tracker.pair(both[:1], 5, 0)[0][0]])
    assert distance.tolist() == [8, 5]
    # closing 8-0 makes a 9-ring (refused), 5-0 a 6-ring (allowed); unconnected: no ring
    assert check.forbids(distance).tolist() == [True, False]
    assert check.forbids(torch.tensor([FAR, 3, 4])).tolist() == [False, True, False]


def test_generation_with_the_ring_check_never_closes_a_disallowed_ring() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    vocab = build_vocabulary(mols)
    model = GraphAF(vocab, dataclasses.replace(TINY, ring_features=True))
    torch.manual_seed(0)
    _randomize(model)
    with torch.no_grad():  # bond classes drawn at random, one in four a single bond: many rings
        model.edge_flow.out_weight.zero_()
        model.edge_flow.out_bias.zero_()
    model.ring_sizes = (5, 6)

    def sizes(check: bool) -> set[int]:
        out = generate(model, 300, temperature=1.0, seed=1, ring_check=check)
        return {s for m in out.mols if m is not None for s in ring_sizes(m)}

    assert not sizes(False) <= {5, 6}  # without it this model closes other rings
    assert sizes(True) <= {5, 6}
    out = generate(model, 300, temperature=1.0, seed=1)
    assert out.resampled.any()  # the redraws count against validity without the check


def test_ring_sizes_text_and_training_defaults() -> None:
    assert parse_ring_sizes("3, 5-7") == (3, 5, 6, 7)
    assert parse_ring_sizes("any") is None
    assert format_ring_sizes((3, 4, 5, 6, 7, 9)) == "3-7,9"
    assert parse_ring_sizes(format_ring_sizes((3, 5, 6, 8))) == (3, 5, 6, 8)
    for bad in ("2-6", "6-5", "five", ""):
        with pytest.raises(BadInputError, match="ring sizes"):
            parse_ring_sizes(bad)
    # 4-rings in 1 of 500 molecules (0.2%) join the defaults, one 12-ring in 2,000 does not
    assert allowed_ring_sizes([[6]] * 499 + [[4, 6]]) == (3, 4, 5, 6, 7)
    assert allowed_ring_sizes([[6]] * 1999 + [[12]]) == (3, 5, 6, 7)
