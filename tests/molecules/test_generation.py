"""Batched generation: the valency check, its flags, temperature 0, stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.generate import END_MAX_ATOMS, END_NO_BOND, END_TOKEN, generate
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize


@pytest.fixture(scope="module")
def model() -> GraphAF:
    torch.manual_seed(1)
    vocab = build_vocabulary([Chem.MolFromSmiles(s) for s in SMILES])
    model = GraphAF(vocab, TINY)
    _randomize(model)  # a wild model: many bonds break valences without the check
    return model


def test_the_check_makes_every_molecule_valid_and_flags_resampling(model) -> None:
    out = generate(model, 64, temperature=1.0, check=True, seed=0, batch_size=25)
    assert len(out.smiles) == 64 and out.resampled.shape == (64,)
    assert out.validity == 1.0
    assert all(Chem.MolFromSmiles(s) is not None for s in out.smiles)
    assert out.resampled.any()  # this random model does need the check
    assert out.validity_without_check == pytest.approx(1.0 - out.resampled.mean())
    assert set(out.ended.tolist()) <= {END_TOKEN, END_NO_BOND, END_MAX_ATOMS}
    # a molecule that ended because its new atom got no bond kept its earlier atoms only
    sizes = np.array([len(a) for a in out.atoms])
    assert (sizes[out.ended == END_MAX_ATOMS] == model.vocab.max_atoms).all()
    for atoms, bonds in zip(out.atoms, out.bonds, strict=True):
        assert 1 <= len(atoms) <= model.vocab.max_atoms
        if len(bonds):
            assert (bonds[:, 0] > bonds[:, 1]).all()
            assert (bonds[:, 0] - bonds[:, 1] <= model.vocab.edge_window).all()


def test_without_the_check_nothing_is_resampled(model) -> None:
    out = generate(model, 64, temperature=1.0, check=False, seed=0)
    assert not out.resampled.any()
    assert out.validity < 1.0  # the random model breaks valences
    assert out.validity_without_check == out.validity
    assert all((m is None) == (s is None) for m, s in zip(out.mols, out.smiles, strict=True))


def test_temperature_zero_is_deterministic(model) -> None:
    a = generate(model, 5, temperature=0.0, seed=1)
    b = generate(model, 7, temperature=0.0, seed=2)
    assert len(set(a.smiles + b.smiles)) == 1


def test_seeds_repeat_and_sizes_vary(model) -> None:
    a = generate(model, 20, temperature=0.8, seed=3)
    b = generate(model, 20, temperature=0.8, seed=3)
    assert a.smiles == b.smiles
    assert np.ptp([len(x) for x in a.atoms]) >= 0
