"""Molecules <-> kekulized graph tensors, the vocabulary and BFS orderings."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.graph import (
    AtomVocabulary,
    apply_order,
    bfs_order,
    bond_span,
    build_vocabulary,
    fitting_order,
    graph_to_mol,
    mol_to_graph,
    raw_graph,
)

# Small drug-like molecules: aromatic rings (benzene, pyridine, pyrrole [nH], thiophene,
# furan, fused rings), halogens, triple bonds, sulfonyl groups and two charged atoms.
SMILES = [
    "c1ccccc1", "Cc1ccncc1", "c1cc[nH]c1", "Clc1ccc(Br)cc1F", "CC#N", "O=C(O)c1ccccc1",
    "CS(=O)(=O)N1CCCC1", "c1ccc2[nH]ccc2c1", "Cc1ccsc1", "c1ccoc1", "CC(=O)Nc1ccc(O)cc1",
    "FC(F)(F)c1ccccc1", "CCOC(=O)C#CC", "O=C1CCCN1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "N#Cc1ccc(Cl)cc1", "OCC1OC(O)C(O)C1O", "C1CC2CCC1C2",
    "COc1ccc2nc(S(N)(=O)=O)sc2c1", "C[N+](C)(C)C", "[O-]C(=O)c1ccccc1", "Brc1ccc2ccccc2c1",
    "CC1=CC(=O)C=CC1=O", "c1ccc(-c2ccccn2)nc1", "C=CCSSCC=C", "CCN(CC)CC", "O=[N+]([O-])c1ccccc1",
]


def canonical(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(mol)


@pytest.fixture(scope="module")
def mols() -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in SMILES]


def test_vocabulary_is_derived_from_the_data(mols) -> None:
    vocab = build_vocabulary(mols)
    assert vocab.atoms[:7] == (("C", 0), ("N", 0), ("O", 0), ("F", 0), ("S", 0), ("Cl", 0), ("Br", 0))
    assert set(vocab.atoms[7:]) == {("N", 1), ("O", -1)}  # charges only because they are present
    assert vocab.max_atoms == max(m.GetNumAtoms() for m in mols)
    assert 1 <= vocab.edge_window < vocab.max_atoms
    neutral = build_vocabulary([Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1")])
    assert neutral.atoms == (("C", 0), ("O", 0)) and neutral.max_atoms == 6
    assert AtomVocabulary.from_config(vocab.to_config()) == vocab
    valences = dict(zip(vocab.atoms, vocab.max_valences().tolist(), strict=True))
    assert valences[("C", 0)] == 4 and valences[("N", 1)] == 4 and valences[("O", -1)] == 1


def test_round_trip_of_kekulized_graphs(mols) -> None:
    vocab = build_vocabulary(mols)
    for mol in mols:
        graph = mol_to_graph(mol, vocab)
        assert graph.bonds.shape[1] == 3 and set(graph.bonds[:, 2].tolist()) <= {1, 2, 3}
        back = graph_to_mol(graph.atoms, graph.bonds, vocab)
        assert back is not None and canonical(back) == canonical(mol)
        # ... and after renumbering by a random BFS ordering
        order = bfs_order(graph, np.random.default_rng(3))
        ordered = apply_order(graph, order)
        assert (ordered.bonds[:, 0] > ordered.bonds[:, 1]).all()
        again = graph_to_mol(ordered.atoms, ordered.bonds, vocab)
        assert canonical(again) == canonical(mol)


def test_bfs_orderings_are_permutations_within_the_window(mols) -> None:
    vocab = build_vocabulary(mols)
    rng = np.random.default_rng(0)
    for mol in mols:
        graph = mol_to_graph(mol, vocab)
        order = fitting_order(graph, vocab.edge_window, rng)
        assert order is not None and sorted(order.tolist()) == list(range(graph.num_atoms))
        assert bond_span(graph, order) <= vocab.edge_window
        ordered = apply_order(graph, order)
        # BFS: every atom after the first is bonded to an earlier one
        for i in range(1, graph.num_atoms):
            assert (ordered.bonds[:, 0] == i).any()


def test_the_type_lookup_is_built_once_per_vocabulary(mols, monkeypatch) -> None:
    """Mapping a data set onto a vocabulary builds its key -> type lookup once, not once a
    molecule; a pickled copy (as worker processes get it) maps the same."""
    vocab = build_vocabulary(mols, ring_types=True)
    assert list(vocab.type_index.items()) == [(key, k) for k, key in enumerate(vocab.keys())]
    fresh = AtomVocabulary.from_config(vocab.to_config())
    built = []
    keys = AtomVocabulary.keys
    monkeypatch.setattr(AtomVocabulary, "keys", lambda self: built.append(self) or keys(self))
    graphs = [mol_to_graph(mol, fresh) for mol in mols]
    assert len(built) == 1
    copy = pickle.loads(pickle.dumps(fresh))
    for mol, graph in zip(mols, graphs, strict=True):
        expected = mol_to_graph(mol, vocab).atoms.tolist()
        assert mol_to_graph(mol, copy).atoms.tolist() == graph.atoms.tolist() == expected


def test_molecules_outside_the_vocabulary_are_refused() -> None:
    vocab = build_vocabulary([Chem.MolFromSmiles("CCO")])
    with pytest.raises(BadInputError, match="not in the vocabulary"):
        mol_to_graph(Chem.MolFromSmiles("CCCl"), vocab)
    with pytest.raises(BadInputError, match="disconnected"):
        mol_to_graph(Chem.MolFromSmiles("CC.O"), vocab)
    with pytest.raises(BadInputError):
        build_vocabulary([])


def test_raw_graph_kekulizes_after_reading_ring_states() -> None:
    mol = Chem.AddHs(Chem.MolFromSmiles("c1ccccc1C"))
    keys, bonds, states = raw_graph(mol)
    assert keys == [("C", 0)] * 7  # explicit hydrogens dropped
    ring = bonds[(bonds[:, 0] < 6) & (bonds[:, 1] < 6)]
    assert sorted(ring[:, 2].tolist()) == [1, 1, 1, 2, 2, 2]  # Kekule bonds, no aromatic class
    assert states.tolist() == [2] * 6 + [0]  # read before kekulizing: aromatic, then off rings
    assert mol.GetAtomWithIdx(0).GetIsAromatic()  # the caller's molecule is left as it was
