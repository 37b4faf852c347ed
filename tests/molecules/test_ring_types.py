"""Ring types: atom types split by ring membership, and generation that draws again the
molecules whose types disagree with their rings (``ring_types``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.generate import generate
from flowstudio.molecules.generated import Generated, ring_types_disagree
from flowstudio.molecules.graph import AtomVocabulary, build_vocabulary, graph_to_mol, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.redraws import RING_TYPES
from flowstudio.molecules.task import MoleculeTask
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize
from tests.molecules.test_task import TINY as TINY_VALUES

MOLS = [Chem.MolFromSmiles(s) for s in SMILES]


def test_types_split_by_ring_membership_as_the_data_has_them() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True)
    plain = build_vocabulary(MOLS)
    pairs = list(zip(vocab.atoms, vocab.on_ring, strict=True))
    # carbon and nitrogen sit on and off rings in these molecules; fluorine never on one
    assert (("C", 0), False) in pairs and (("C", 0), True) in pairs
    assert (("N", 0), True) in pairs and (("F", 0), True) not in pairs and (("F", 0), False) in pairs
    assert set(vocab.atoms) == set(plain.atoms) and vocab.size > plain.size
    assert vocab.ring_types and not plain.ring_types
    assert "C (ring)" in vocab.labels() and "N+" in vocab.labels() and "C (ring)" not in plain.labels()
    # the valence of a type is its element's, whichever ring flag it carries
    valence = dict(zip(plain.atoms, plain.max_valences().tolist(), strict=True))
    assert vocab.max_valences().tolist() == [valence[a] for a in vocab.atoms]


def test_each_atom_gets_the_type_of_its_ring_membership_and_decodes_back() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True)
    for mol in MOLS:
        graph = mol_to_graph(mol, vocab)
        flags = [vocab.on_ring[k] for k in graph.atoms]
        assert flags == [a.IsInRing() for a in mol.GetAtoms()]
        back = graph_to_mol(graph.atoms, graph.bonds, vocab)
        assert Chem.MolToSmiles(back) == Chem.MolToSmiles(mol)


def test_an_atom_outside_the_types_is_refused_by_name() -> None:
    vocab = build_vocabulary([Chem.MolFromSmiles("c1ccccc1CN")], ring_types=True)
    with pytest.raises(BadInputError, match=r"N.*on a ring"):
        mol_to_graph(Chem.MolFromSmiles("C1CCNC1"), vocab)


def test_the_vocabulary_round_trips_and_old_configs_have_no_ring_types() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True)
    assert AtomVocabulary.from_config(vocab.to_config()) == vocab
    old = build_vocabulary(MOLS).to_config()
    assert "on_ring" not in old and not AtomVocabulary.from_config(old).ring_types
    bad = vocab.to_config()
    with pytest.raises(BadInputError, match="ring flags"):
        AtomVocabulary.from_config({**bad, "on_ring": bad["on_ring"][:-1]})
    with pytest.raises(BadInputError, match="ring flag"):
        AtomVocabulary.from_config({**bad, "on_ring": ["yes"] * len(bad["on_ring"])})
    with pytest.raises(BadInputError, match="repeats"):
        AtomVocabulary.from_config({**bad, "on_ring": [False] * len(bad["on_ring"])})


def _generated(smiles: list[str], vocab: AtomVocabulary, flip: int | None = None) -> Generated:
    atoms, bonds, mols = [], [], []
    for k, s in enumerate(smiles):
        graph = mol_to_graph(Chem.MolFromSmiles(s), vocab)
        types = graph.atoms.copy()
        if k == flip:  # atom 0 given its twin type: the other ring flag, the same element
            twin = [i for i, a in enumerate(vocab.atoms) if a == vocab.atoms[types[0]] and i != types[0]]
            types[0] = twin[0]
        atoms.append(types)
        bonds.append(graph.bonds)
        mols.append(graph_to_mol(types, graph.bonds, vocab))
    n = len(smiles)
    return Generated(atoms, bonds, mols, [Chem.MolToSmiles(m) for m in mols], np.zeros(n, bool), np.zeros(n))


def test_disagreement_is_found_in_either_direction() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True)
    smiles = ["Cc1ccncc1", "CCN(CC)CC", "c1ccccc1"]
    assert not ring_types_disagree(_generated(smiles, vocab), vocab).any()
    # a methyl typed as a ring carbon (a ring begun and never closed), then a ring atom typed as chain
    assert ring_types_disagree(_generated(smiles, vocab, flip=0), vocab).tolist() == [True, False, False]
    assert ring_types_disagree(_generated(smiles, vocab, flip=2), vocab).tolist() == [False, False, True]
    plain = build_vocabulary(MOLS)
    assert not ring_types_disagree(_generated(smiles, plain), plain).any()


def test_disagreement_is_judged_only_among_the_molecules_asked_for() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True)
    flipped = _generated(["Cc1ccncc1", "CCN(CC)CC", "c1ccccc1"], vocab, flip=0)
    assert ring_types_disagree(flipped, vocab, np.array([True, True, False])).tolist() == [True, False, False]
    assert not ring_types_disagree(flipped, vocab, np.array([False, True, True])).any()


@pytest.fixture(scope="module")
def ring_model() -> GraphAF:
    torch.manual_seed(1)
    model = GraphAF(build_vocabulary(MOLS, ring_types=True), TINY)
    _randomize(model)  # a wild model: its types often disagree with the rings it draws
    return model


def test_generation_with_the_checks_draws_disagreeing_molecules_again(ring_model) -> None:
    raw = generate(ring_model, 64, temperature=1.0, check=False, seed=0)
    before = ring_types_disagree(raw, ring_model.vocab).mean()
    assert before > 0.1 and raw.redrawn[RING_TYPES] == 0 and raw.redraws_on == frozenset()
    out = generate(ring_model, 64, temperature=1.0, check=True, seed=0)
    after = ring_types_disagree(out, ring_model.vocab).mean()
    assert len(out.smiles) == 64 and out.validity == 1.0
    assert out.redrawn[RING_TYPES] >= 0.1 * 64 and after < 0.5 * before
    assert out.redraws_on == {RING_TYPES}  # the model's other redraws are off
    assert out.redrawn_shares() == {RING_TYPES: pytest.approx(out.redrawn[RING_TYPES] / 64)}


def test_a_task_keeps_its_ring_types_and_refuses_to_change_them() -> None:
    task = MoleculeTask(SMILES, "quick", {**TINY_VALUES, "ring_types": True})
    assert task.vocab.ring_types
    again = MoleculeTask.from_config(task.config())
    assert again.vocab == task.vocab and again.values["ring_types"]
    config = task.config()
    config["values"]["ring_types"] = False
    with pytest.raises(BadInputError, match="ring_types=false does not match"):
        MoleculeTask.from_config(config)
    old = MoleculeTask(SMILES, "quick", {**TINY_VALUES, "ring_types": False}).config()
    assert "on_ring" not in old["vocabulary"]
    del old["values"]["ring_types"]  # a run from before the option: made without it
    assert not MoleculeTask.from_config(old).vocab.ring_types
