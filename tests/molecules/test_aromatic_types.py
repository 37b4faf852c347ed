"""Aromatic atom types: ring types split once more by whether the ring is aromatic, read
before kekulization, and generation that draws again a molecule whose aromatic types did
not end aromatic (``aromatic_types``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.generate import generate
from flowstudio.molecules.generated import Generated, ring_types_disagree
from flowstudio.molecules.graph import (
    AROMATIC,
    OFF_RING,
    ON_RING,
    AtomVocabulary,
    build_vocabulary,
    graph_to_mol,
    mol_to_graph,
    ring_states,
)
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.redraws import RING_TYPES
from flowstudio.molecules.task import MoleculeTask
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize
from tests.molecules.test_task import TINY as TINY_VALUES

MOLS = [Chem.MolFromSmiles(s) for s in SMILES]


def test_ring_states_are_read_as_rdkit_perceives_the_molecule() -> None:
    # toluene's methyl is off rings, its ring aromatic; cyclohexene's ring is not aromatic
    assert ring_states(Chem.MolFromSmiles("Cc1ccccc1")).tolist() == [OFF_RING] + [AROMATIC] * 6
    assert ring_states(Chem.MolFromSmiles("CC1=CCCCC1")).tolist() == [OFF_RING] + [ON_RING] * 6
    # a Kekulé SMILES of pyridine is perceived aromatic, as the generated molecules are
    assert ring_states(Chem.MolFromSmiles("C1=CC=NC=C1")).tolist() == [AROMATIC] * 6


def test_types_split_into_three_ring_states_as_the_data_has_them() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True, aromatic=True)
    rings = build_vocabulary(MOLS, ring_types=True)
    pairs = set(zip(vocab.atoms, vocab.on_ring, strict=True))
    # carbon sits off rings, on saturated rings and on aromatic ones in these molecules
    assert {(("C", 0), OFF_RING), (("C", 0), ON_RING), (("C", 0), AROMATIC)} <= pairs
    # sulfur: on an aromatic ring (thiophene) and off rings, never on a saturated ring
    assert (("S", 0), AROMATIC) in pairs and (("S", 0), ON_RING) not in pairs
    assert vocab.aromatic and not rings.aromatic and vocab.size > rings.size
    assert "C (aromatic)" in vocab.labels() and "C (ring)" in vocab.labels()
    assert not any("aromatic" in label for label in rings.labels())


def test_each_atom_gets_its_ring_state_and_decodes_back() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True, aromatic=True)
    for mol in MOLS:
        graph = mol_to_graph(mol, vocab)
        assert [vocab.on_ring[k] for k in graph.atoms] == ring_states(mol).tolist()
        back = graph_to_mol(graph.atoms, graph.bonds, vocab)  # kekulized bonds, aromatic again
        assert Chem.MolToSmiles(back) == Chem.MolToSmiles(mol)


def test_an_atom_in_a_state_the_data_lacks_is_refused_by_name() -> None:
    mols = [Chem.MolFromSmiles("c1ccccc1CN"), Chem.MolFromSmiles("C1CCCC1")]
    vocab = build_vocabulary(mols, ring_types=True, aromatic=True)
    with pytest.raises(BadInputError, match=r"N.*on an aromatic ring"):
        mol_to_graph(Chem.MolFromSmiles("c1ccncc1"), vocab)
    with pytest.raises(BadInputError, match="need ring types"):
        build_vocabulary(MOLS, aromatic=True)


def test_the_vocabulary_round_trips_and_reads_the_flags_of_runs_before_it() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True, aromatic=True)
    assert AtomVocabulary.from_config(vocab.to_config()) == vocab
    before = build_vocabulary(MOLS, ring_types=True).to_config()
    before["on_ring"] = [bool(state) for state in before["on_ring"]]  # how older runs wrote them
    assert "aromatic" not in before
    assert AtomVocabulary.from_config(before) == build_vocabulary(MOLS, ring_types=True)
    bad = vocab.to_config()
    with pytest.raises(BadInputError, match="ring flag 3"):
        AtomVocabulary.from_config({**bad, "on_ring": [3] * len(bad["on_ring"])})
    with pytest.raises(BadInputError, match="aromatic ring flag but no aromatic types"):
        AtomVocabulary.from_config({**bad, "aromatic": False})
    with pytest.raises(BadInputError, match="aromatic 'yes'"):
        AtomVocabulary.from_config({**bad, "aromatic": "yes"})
    with pytest.raises(BadInputError, match="aromatic types but no ring types"):
        AtomVocabulary(vocab.atoms[:1], 4, 2, (), aromatic=True)


def _typed(smiles: str, vocab: AtomVocabulary, state: int | None = None) -> Generated:
    """One molecule as GraphAF would have drawn it, its ring atoms given ``state``'s types."""
    mol = Chem.MolFromSmiles(smiles)
    graph = mol_to_graph(mol, vocab)
    types = graph.atoms.copy()
    if state is not None:
        index = vocab.type_index
        for k, atom in enumerate(mol.GetAtoms()):
            if atom.IsInRing():
                types[k] = index[(*vocab.atoms[types[k]], state)]
    back = graph_to_mol(types, graph.bonds, vocab)
    return Generated([types], [graph.bonds], [back], [Chem.MolToSmiles(back)], np.zeros(1, bool), np.zeros(1))


def test_a_ring_that_did_not_end_as_its_types_say_disagrees() -> None:
    vocab = build_vocabulary(MOLS, ring_types=True, aromatic=True)
    rings = build_vocabulary(MOLS, ring_types=True)
    for smiles in ("Cc1ccccc1", "C1=CCCCC1", "O=C1CCCN1"):
        assert not ring_types_disagree(_typed(smiles, vocab), vocab).any()
    # a cyclohexene typed aromatic: the Kekulé bonds did not alternate, the ring is not aromatic
    assert ring_types_disagree(_typed("C1=CCCCC1", vocab, AROMATIC), vocab).all()
    # a benzene typed as a saturated ring; ring types without the aromatic state accept it
    assert ring_types_disagree(_typed("c1ccccc1", vocab, ON_RING), vocab).all()
    assert not ring_types_disagree(_typed("c1ccccc1", rings, ON_RING), rings).any()


@pytest.fixture(scope="module")
def aromatic_model() -> GraphAF:
    torch.manual_seed(1)
    model = GraphAF(build_vocabulary(MOLS, ring_types=True, aromatic=True), TINY)
    _randomize(model)  # a wild model: its aromatic types rarely end in aromatic rings
    return model


def test_generation_with_the_checks_draws_rings_unlike_their_types_again(aromatic_model) -> None:
    raw = generate(aromatic_model, 64, temperature=1.0, check=False, seed=0)
    before = ring_types_disagree(raw, aromatic_model.vocab).mean()
    out = generate(aromatic_model, 64, temperature=1.0, check=True, seed=0)
    after = ring_types_disagree(out, aromatic_model.vocab).mean()
    assert before > 0.1 and out.redrawn[RING_TYPES] >= 0.1 * 64 and after < 0.5 * before
    assert out.validity == 1.0 and out.redraws_on == {RING_TYPES}


def test_a_task_keeps_aromatic_types_as_asked() -> None:
    assert not MoleculeTask(SMILES, "quick", {**TINY_VALUES, "aromatic_types": False}).vocab.aromatic
    task = MoleculeTask(SMILES, "quick", dict(TINY_VALUES))  # on in the presets
    assert task.vocab.aromatic and task.values["aromatic_types"]
    again = MoleculeTask.from_config(task.config())
    assert again.vocab == task.vocab
    config = task.config()
    config["values"]["aromatic_types"] = False
    with pytest.raises(BadInputError, match="aromatic_types=false does not match"):
        MoleculeTask.from_config(config)
    # aromatic types split ring types: without ring types the option has nothing to split
    plain = MoleculeTask(SMILES, "quick", {**TINY_VALUES, "ring_types": False, "aromatic_types": True})
    assert not plain.vocab.ring_types and not plain.vocab.aromatic
    old = MoleculeTask(SMILES, "quick", {**TINY_VALUES, "aromatic_types": False}).config()
    del old["values"]["aromatic_types"]  # a run from before the option: made without it
    rebuilt = MoleculeTask.from_config(old)
    assert rebuilt.vocab.ring_types and not rebuilt.vocab.aromatic
