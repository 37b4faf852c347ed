"""Property directions in GraphAF's latent space, walks along them, constrained optimization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator

from flowstudio.errors import BadInputError
from flowstudio.molecules import optimize
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY


@pytest.fixture(scope="module")
def mols() -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in SMILES]


@pytest.fixture(scope="module")
def model(mols) -> GraphAF:
    torch.manual_seed(0)
    return GraphAF(build_vocabulary(mols), TINY)


def test_latent_vectors_round_trip(model, mols) -> None:
    z = optimize.encode_vectors(model, mols[:3])
    nodes, edges = optimize.unflatten(model, z)
    decoded = optimize.decode(model, nodes, edges)
    assert [Chem.MolToSmiles(m) for m in decoded.mols] == [Chem.MolToSmiles(m) for m in mols[:3]]


def test_a_weight_direction_points_to_heavier_molecules(model, mols) -> None:
    direction = optimize.fit_direction(model, mols, "mw")
    assert direction.r2_fit > 0.5 and direction.r2_held_out is not None
    # predictions order molecules the way their weights do
    z = optimize.encode_vectors(model, mols)
    predicted = direction.predict(z).numpy()
    weights = np.array([Descriptors.MolWt(m) for m in mols])
    assert np.corrcoef(predicted, weights)[0, 1] > 0.5
    # decoded walks: up the direction the molecules get heavier than down it
    distances = np.linspace(1.0, 8.0, 8)
    heavier, lighter = [], []
    for start in mols[:6]:
        up = optimize.walk(model, start, direction, distances).mols
        down = optimize.walk(model, start, direction, -distances).mols
        heavier += [Descriptors.MolWt(m) for m in up if m is not None]
        lighter += [Descriptors.MolWt(m) for m in down if m is not None]
    assert np.mean(heavier) > np.mean(lighter)


def test_sa_direction_lowers_sa(model, mols) -> None:
    """SA is better when lower: its score is negated, so the fit sees -SA."""
    direction = optimize.fit_direction(model, mols, "sa")
    z = optimize.encode_vectors(model, mols)
    sa = np.array([optimize.PROPERTIES["sa"].compute(m) for m in mols])
    assert np.corrcoef(direction.predict(z).numpy(), sa)[0, 1] < -0.5


def _tanimoto(a: str, b: str) -> float:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fa, fb = (generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    return DataStructs.TanimotoSimilarity(fa, fb)


def test_optimization_never_returns_a_molecule_under_the_threshold(model, mols) -> None:
    direction = optimize.fit_direction(model, mols, "mw")
    search = optimize.Search(steps=6, max_distance=2.0, scatter=8, sigma=0.3)
    free = optimize.optimize(model, mols[:8], direction, 0.0, search, seed=1)
    assert sum(r.success for r in free) >= 4  # unconstrained: heavier molecules turn up
    for threshold in (0.3, 0.5):
        results = optimize.optimize(model, mols[:8], direction, threshold, search, seed=1)
        assert len(results) == 8 and all(r.candidates == 6 * 9 for r in results)
        assert any(r.success for r in results)
        # the bound bites: some unconstrained best lies under it
        assert any(r.success and r.similarity < threshold for r in free)
        for r in results:
            if r.success:
                assert r.smiles != r.start and r.value > r.start_value
                assert r.similarity == pytest.approx(_tanimoto(r.start, r.smiles), abs=1e-6)
                assert _tanimoto(r.start, r.smiles) >= threshold
                assert r.value == pytest.approx(Descriptors.MolWt(Chem.MolFromSmiles(r.smiles)))
            else:
                assert r.improvement == 0.0 and r.similarity is None
        summary = optimize.summarize(results)
        assert summary["success"] == sum(r.success for r in results) / 8


def test_penalized_logp_penalizes_large_rings() -> None:
    ring7, ring6 = Chem.MolFromSmiles("C1CCCCCC1"), Chem.MolFromSmiles("C1CCCCC1")
    logp = optimize.PROPERTIES["logp"].compute
    sa = optimize.PROPERTIES["sa"].compute
    assert optimize.penalized_logp(ring7) == pytest.approx(logp(ring7) - sa(ring7) - 1)
    assert optimize.penalized_logp(ring6) == pytest.approx(logp(ring6) - sa(ring6))


def test_bad_input(model, mols) -> None:
    with pytest.raises(BadInputError, match="unknown property 'tpsa'"):
        optimize.fit_direction(model, mols, "tpsa")
    with pytest.raises(BadInputError, match="at least 4 molecules"):
        optimize.fit_direction(model, mols[:3], "qed")
    direction = optimize.fit_direction(model, mols, "qed")
    with pytest.raises(BadInputError, match="similarity threshold"):
        optimize.optimize(model, mols[:1], direction, 1.5)
    with pytest.raises(BadInputError, match="sigma"):
        optimize.optimize(model, mols[:1], direction, 0.4, optimize.Search(sigma=float("nan")))
