"""The END step's size calibration: hazards, the fixed-point update, exact encoding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.calibration import OFFSET_BOUND, calibrate_end, size_hazards
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY


def test_hazards_by_hand() -> None:
    hazard, reached = size_hazards(np.array([1, 2, 2, 3]), max_atoms=4)
    assert reached.tolist() == [4, 4, 3, 1, 0]
    assert hazard[:4] == pytest.approx([0.0, 0.25, 2 / 3, 1.0])
    assert np.isnan(hazard[4])


@pytest.fixture()
def long_model() -> GraphAF:
    """An untrained model whose END classifier says 3% at every size."""
    torch.manual_seed(0)
    vocab = build_vocabulary([Chem.MolFromSmiles(s) for s in SMILES])
    model = GraphAF(vocab, TINY)
    assert model.stop_logit is not None
    with torch.no_grad():
        model.stop_logit.bias.fill_(float(np.log(0.03 / 0.97)))
    return model


def test_calibration_moves_the_sample_sizes_to_the_data(long_model: GraphAF) -> None:
    # Untrained bond steps often leave a new atom without bonds, which ends a molecule
    # too: this model's molecules have about 2.4 atoms, and the data here fewer.
    data_sizes = np.array([1] * 40 + [2] * 60)  # mean 1.6 atoms

    def mean_size() -> float:
        out = generate(long_model, 400, temperature=0.75, seed=7)
        return float(np.mean([len(a) for a in out.atoms]))

    before = mean_size()
    report = None
    for round_ in range(4):
        report = calibrate_end(long_model, data_sizes, n=400, seed=round_)
    after = mean_size()
    assert report is not None and report.drawn == 400
    offsets = long_model.end_offset.numpy()
    assert abs(after - 1.6) < 0.5 * abs(before - 1.6)
    # END is pushed up at 2 atoms, where every data molecule ends (at 1 atom the bondless
    # second atoms already end more than the data's 40%), never past the bound; size 0
    # (END is not offered there) is untouched
    assert offsets[2] > 1.0 and offsets[1] < 0 and np.abs(offsets).max() <= OFFSET_BOUND and offsets[0] == 0


def test_encoding_stays_exact_with_a_calibration(long_model: GraphAF) -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    with torch.no_grad():
        long_model.end_offset.copy_(torch.linspace(-5, 5, long_model.end_offset.numel()))
    decoded = decode_latents(long_model, encode(long_model, mols, seed=0))
    assert [Chem.MolToSmiles(m) for m in decoded.mols] == [Chem.MolToSmiles(m) for m in mols]


def test_models_without_an_end_classifier_are_left_alone() -> None:
    vocab = build_vocabulary([Chem.MolFromSmiles(s) for s in SMILES])
    model = GraphAF(vocab, dataclasses.replace(TINY, end_step=False))  # END is a class of the atom step
    report = calibrate_end(model, np.array([3, 4, 5]), n=50)
    assert report.drawn == 0 and not model.end_offset.any()
