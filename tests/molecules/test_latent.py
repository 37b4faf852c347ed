"""Encode -> decode reconstructs training molecules exactly; interpolation and neighbours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.graph import apply_order, build_vocabulary, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode, interpolate, sample_around
from flowstudio.molecules.packing import pack_steps
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize


@pytest.fixture(scope="module")
def mols() -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in SMILES]


def _canonical(mols):
    return [Chem.MolToSmiles(m) if m is not None else None for m in mols]


def _reconstruct(model, mols, seed=0):
    latents = encode(model, mols, seed=seed)
    return _canonical(decode_latents(model, latents).mols)


def test_reconstruction_is_exact_untrained(mols) -> None:
    model = GraphAF(build_vocabulary(mols), TINY)
    assert _reconstruct(model, mols) == _canonical(mols)
    _randomize(model)  # arbitrary weights: still exact, it is a bijection
    assert _reconstruct(model, mols, seed=4) == _canonical(mols)


def test_reconstruction_is_exact_after_training(mols) -> None:
    vocab = build_vocabulary(mols)
    model = GraphAF(vocab, TINY)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        ordered = []
        for mol in mols:
            graph = mol_to_graph(mol, vocab)
            ordered.append(apply_order(graph, fitting_order(graph, vocab.edge_window, rng)))
        loss = model.loss_terms(pack_steps(ordered, vocab))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _reconstruct(model, mols, seed=1) == _canonical(mols)
    # a given ordering is honoured: the decoded atoms come in that order
    graph = mol_to_graph(mols[3], vocab)
    order = fitting_order(graph, vocab.edge_window, np.random.default_rng(5))
    decoded = decode_latents(model, encode(model, [mols[3]], orders=[order]))
    assert decoded.atoms[0].tolist() == graph.atoms[order].tolist()


def test_interpolation_ends_at_both_molecules(mols) -> None:
    model = GraphAF(build_vocabulary(mols), TINY)
    a, b = mols[1], mols[15]  # 7 and 15 heavy atoms: different sizes
    path = interpolate(model, a, b, steps=6)
    assert len(path.smiles) == 6
    assert path.smiles[0] == Chem.MolToSmiles(a) and path.smiles[-1] == Chem.MolToSmiles(b)


def test_sampling_around_a_molecule(mols) -> None:
    model = GraphAF(build_vocabulary(mols), TINY)
    near = sample_around(model, mols[5], n=8, temperature=0.0)
    assert set(near.smiles) == {Chem.MolToSmiles(mols[5])}
    spread = sample_around(model, mols[5], n=8, temperature=0.3)
    assert len(spread.smiles) == 8 and spread.validity == 1.0
