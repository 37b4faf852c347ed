"""MOSES metrics against values worked out by hand on small hand-made sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from flowstudio.molecules.fcd import frechet_chemnet_distance
from flowstudio.molecules.metrics import (
    METRIC_KEYS,
    brics_fragments,
    cosine_similarity,
    distribution_histograms,
    evaluate,
    fraction_novel,
    fraction_unique,
    fraction_valid,
    internal_diversity,
    murcko_scaffolds,
    nearest_neighbour_similarity,
)
from flowstudio.molecules.properties import PROPERTY_FUNCTIONS
from flowstudio.molecules.rings import ring_size_counts
from flowstudio.molecules.similarity import max_similarity, morgan_fingerprints, tanimoto_matrix

DRUGS = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(=O)Nc1ccc(O)cc1",
    "c1ccc2c(c1)cccc2CCN",
    "O=C(O)c1ccc2ccccc2c1",
    "c1ccc(-c2ccncc2)cc1",
    "CN1CCC[C@H]1c1cccnc1",
]
SMALL = ["CCO", "CCN", "CCC", "CO", "CCCl", "OCCO", "NCCN", "CC(C)O"]


def fps(smiles: list[str]) -> np.ndarray:
    return morgan_fingerprints([Chem.MolFromSmiles(s) for s in smiles])


def test_validity_counts_none_empty_and_unparsable_as_invalid() -> None:
    assert fraction_valid(["CCO", "c1ccccc1", "C1CC", "CN"]) == 3 / 4
    assert fraction_valid(["CCO", None, "", "C(C)(C)(C)(C)C"]) == 1 / 4


def test_uniqueness_and_novelty() -> None:
    canonical = ["CCO", "CCO", "Oc1ccccc1"]
    assert fraction_unique(canonical) == pytest.approx(2 / 3)
    assert fraction_unique(canonical, k=2) == 1 / 2
    assert fraction_novel(canonical, {"CCO"}) == 1 / 2
    assert fraction_novel(canonical, set()) == 1.0


def test_tanimoto_matches_rdkit() -> None:
    bits = fps(DRUGS)
    mine = tanimoto_matrix(bits, bits)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    theirs = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in DRUGS]
    for i, fp in enumerate(theirs):
        np.testing.assert_allclose(mine[i], DataStructs.BulkTanimotoSimilarity(fp, theirs), rtol=1e-6)
    best = max_similarity(bits[:3], bits[3:])
    np.testing.assert_allclose(best, mine[:3, 3:].max(1), rtol=1e-6)


def test_internal_diversity() -> None:
    assert internal_diversity(fps(["CCO"] * 5), p=1) == pytest.approx(0.0, abs=1e-12)
    assert internal_diversity(fps(["CCO"] * 5), p=2) == pytest.approx(0.0, abs=1e-12)
    bits = fps(["CCO", "c1ccccc1"])
    t = tanimoto_matrix(bits, bits)[0, 1]
    # all four ordered pairs, the two self-pairs included: (1 + 1 + t + t) / 4
    assert internal_diversity(bits, p=1) == pytest.approx(1 - (2 + 2 * t) / 4)
    assert internal_diversity(bits, p=2) == pytest.approx(1 - math.sqrt((2 + 2 * t**2) / 4))


def test_similarity_of_a_set_with_itself_is_one() -> None:
    bits = fps(DRUGS)
    assert nearest_neighbour_similarity(bits, bits) == pytest.approx(1.0)
    assert cosine_similarity(brics_fragments(_mols(DRUGS)), brics_fragments(_mols(DRUGS))) == pytest.approx(
        1.0
    )
    assert cosine_similarity(murcko_scaffolds(_mols(DRUGS)), murcko_scaffolds(_mols(DRUGS))) == pytest.approx(
        1.0
    )
    assert nearest_neighbour_similarity(fps(SMALL), bits) < 0.5


def test_fragments_scaffolds_and_cosine_by_hand() -> None:
    frags = brics_fragments(_mols(["CC(=O)Oc1ccccc1"]))  # phenyl acetate: one ester bond
    assert sum(frags.values()) >= 2
    scaffolds = murcko_scaffolds(_mols(["c1ccc(-c2ccncc2)cc1", "Cc1ccc(-c2ccncc2)cc1", "CCc1ccccc1"]))
    assert scaffolds == {"c1ccc(-c2ccncc2)cc1": 2}  # one-ring scaffolds are not counted (MOSES)
    a, b = {"x": 1, "y": 1}, {"x": 1}
    assert cosine_similarity(a, b) == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(cosine_similarity({}, b))


def test_fcd_is_zero_for_the_same_set_and_positive_for_another() -> None:
    assert frechet_chemnet_distance(DRUGS, DRUGS) == pytest.approx(0.0, abs=1e-3)
    assert frechet_chemnet_distance(DRUGS, SMALL) > 1.0
    assert math.isnan(frechet_chemnet_distance(["CCO"], DRUGS))


def test_evaluate_on_hand_made_sets() -> None:
    samples = ["OCC", "CCO", "c1ccccc1O", None, "C1CC"]
    result = evaluate(samples, train=["CCO", "CCC"], test=DRUGS, valid_without_check=0.5)
    assert result["valid"] == 3 / 5
    assert result["valid_without_check"] == 0.5
    assert result["unique"] == result["unique@1000"] == pytest.approx(2 / 3)
    assert result["novel"] == 1 / 2
    assert result["n_samples"] == 5 and result["n_valid"] == 3 and result["n_reference"] == len(DRUGS)
    assert result["heavy_atoms_mean"] == pytest.approx((3 + 3 + 7) / 3)
    assert result["FCD/Test"] > 0 and result["SNN/Test"] < 1
    assert list(result) == [k for k in METRIC_KEYS if k in result]


def test_evaluate_a_set_against_itself() -> None:
    result = evaluate(DRUGS, train=DRUGS)
    assert result["valid"] == result["unique"] == 1.0
    assert result["novel"] == 0.0
    assert "valid_without_check" not in result
    for key in ("SNN/Test", "Frag/Test", "Scaf/Test"):
        assert result[key] == pytest.approx(1.0), key
    assert result["FCD/Test"] == pytest.approx(0.0, abs=1e-3)
    for key in (*PROPERTY_FUNCTIONS, "ring_size_tv", "ring_size_w1"):
        assert result[key] == pytest.approx(0.0, abs=1e-9), key
    assert result["IntDiv"] == result["IntDiv1"] > 0.5
    assert result["Filters"] == result["Filters_ref"] == 1.0
    assert result["ring_unusual_share"] == result["ring_unusual_share_ref"] == 0.0
    assert result["acyclic_double_share"] == result["acyclic_double_share_ref"]
    assert result["ring_double_share"] == result["ring_double_share_ref"]
    assert result["unseen_ring_systems"] == 0.0


def test_evaluate_exposes_odd_rings_and_filtered_groups() -> None:
    # cyclopropane + benzene: one molecule of two with a ring outside 5-7 atoms; a
    # benzylidene rhodanine (PAINS) and benzaldehyde (an aldehyde) fail the filters
    samples = ["C1CC1", "c1ccccc1", "S=C1SC(=Cc2ccccc2)C(=O)N1", "O=Cc1ccccc1"]
    result = evaluate(samples, train=DRUGS, fcd=False)
    assert result["ring_unusual_share"] == 1 / 4
    assert result["Filters"] == 2 / 4
    assert result["Filters_ref"] == 1.0 and result["ring_unusual_share_ref"] == 0.0
    assert 0 < result["ring_size_tv"] < 1 and result["ring_size_w1"] > 0
    small_rings = evaluate(["C1CC1", "c1ccccc1"], train=DRUGS, fcd=False)
    assert small_rings["ring_unusual_share"] == 0.5
    # the rhodanine's benzylidene C=C is outside its ring; C=O and C=S do not count
    assert result["acyclic_double_share"] == 1 / 4


def test_evaluate_counts_ring_systems_the_training_set_lacks() -> None:
    train = ["Cc1ccccc1", "OC1CCNCC1"]  # benzene and piperidine
    samples = ["Nc1ccccc1", "c1ccc(cc1)C1CCNCC1", "c1ccc2ccccc2c1", "CC1CC1", "CCO"]
    result = evaluate(samples, train=train, test=["c1ccccc1O", "c1ccc2[nH]ccc2c1"], fcd=False)
    assert result["unseen_ring_systems"] == 2 / 5  # naphthalene and cyclopropane
    assert result["unseen_ring_systems_ref"] == 1 / 2  # the test set's indole
    assert "unseen_ring_systems_ref" not in evaluate(samples, train=train, fcd=False)  # R is the training set


@pytest.mark.parametrize(
    ("smiles", "counted"),
    [("C=CC", True), ("CC=NC", True), ("CN=NC", True), ("C=C1CCCCC1", True), ("C=CC(=O)NC", True),
     ("c1ccccc1", False), ("C1=CCCC1", False), ("O=CCC", False), ("NC(N)=S", False), ("CC#N", False)],
)
def test_acyclic_double_bonds_are_c_and_n_double_bonds_outside_rings(smiles: str, counted: bool) -> None:
    from rdkit import Chem

    from flowstudio.molecules.rings import acyclic_double_share

    assert acyclic_double_share([Chem.MolFromSmiles(smiles)]) == float(counted)


@pytest.mark.parametrize(
    ("smiles", "counted"),
    [("C1=CCNC=C1", True), ("C1=NNCC1", True), ("C1=CCCCC1", True), ("O=C1CCC=CN1", True),
     ("c1ccccc1", False), ("c1ccncc1", False), ("O=c1cc[nH]c(=O)[nH]1", False), ("C=C1CCCCC1", False),
     ("O=C1CCCCC1", False), ("C=CC", False)],
)
def test_ring_double_bonds_are_c_and_n_double_bonds_in_rings_that_are_not_aromatic(
    smiles: str, counted: bool
) -> None:
    from rdkit import Chem

    from flowstudio.molecules.rings import ring_double_share

    assert ring_double_share([Chem.MolFromSmiles(smiles)]) == float(counted)


def test_distribution_histograms_compare_samples_with_the_reference() -> None:
    samples = ["C1CC1", "c1ccccc1", "CCO", None]
    histograms = distribution_histograms(samples, train=DRUGS, max_reference=None)
    assert {"QED", "logP", "SA", "weight", "heavy_atoms", "rings", "aromatic_rings", "ring_size"} <= set(
        histograms
    )
    assert histograms["QED"].counts.sum() == 3 and histograms["QED"].reference_counts.sum() == len(DRUGS)
    rings = histograms["ring_size"]  # sizes 3 to 6: the samples' 3 and 6, the drugs' 5 and 6
    reference = ring_size_counts(_mols(DRUGS))
    np.testing.assert_array_equal(rings.edges, [2.5, 3.5, 4.5, 5.5, 6.5])
    np.testing.assert_array_equal(rings.counts, [1, 0, 0, 1])
    np.testing.assert_array_equal(rings.reference_counts, [0, 0, reference[5], reference[6]])


def test_tiny_molecules_show_in_the_size_distribution() -> None:
    result = evaluate(SMALL, train=DRUGS, fcd=False)
    assert result["heavy_atoms_mean"] < 4 < result["heavy_atoms_mean_ref"]
    assert result["heavy_atoms"] > 5
    assert math.isnan(result["FCD/Test"])


def test_reference_subset_is_seeded() -> None:
    many = DRUGS * 3
    a = evaluate(DRUGS[:4], train=many, max_reference=5, fcd=False)
    b = evaluate(DRUGS[:4], train=many, max_reference=5, fcd=False)
    assert a["n_reference"] == 5 and a == b


def test_no_valid_sample_gives_nan_not_an_error() -> None:
    result = evaluate([None, "C1CC"], train=DRUGS)
    assert result["valid"] == 0.0
    assert math.isnan(result["unique"]) and math.isnan(result["FCD/Test"])


def _mols(smiles: list[str]) -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in smiles]


def test_reference_statistics_are_cached_and_reused() -> None:
    from flowstudio.molecules.metrics import reference_statistics

    first = reference_statistics(DRUGS)
    assert reference_statistics(list(DRUGS)) is first
    assert reference_statistics(DRUGS[:-1]) is not first
    assert first.size == len(DRUGS) and first.fingerprints.shape == (len(DRUGS), 1024)


def test_every_metric_has_one_line_of_help() -> None:
    from flowstudio.molecules.metric_help import METRIC_HELP

    assert list(METRIC_HELP) == list(METRIC_KEYS)
    assert all(text and "\n" not in text for text in METRIC_HELP.values())
