"""Property values, their W1 distances and the histograms that plot them, on hand-made sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem

from flowstudio.molecules.properties import (
    PROPERTY_FUNCTIONS,
    count_histogram,
    histogram,
    property_distances,
    property_histograms,
    property_values,
)


def mols(*smiles: str) -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in smiles]


def test_ring_and_atom_counts_by_construction() -> None:
    values = property_values(mols("c1ccccc1", "C1CCCCC1", "c1ccc2ccccc2c1", "CCO"))
    np.testing.assert_array_equal(values["rings"], [1, 1, 2, 0])
    np.testing.assert_array_equal(values["aromatic_rings"], [1, 0, 2, 0])
    np.testing.assert_array_equal(values["fused_ring_systems"], [0, 0, 1, 0])
    np.testing.assert_array_equal(values["heavy_atoms"], [6, 6, 10, 3])
    assert values["weight"][3] == pytest.approx(46.07, abs=0.01)
    assert set(values) == set(PROPERTY_FUNCTIONS)


def test_distances_are_zero_for_the_same_set_and_the_shift_otherwise() -> None:
    a = property_values(mols("c1ccccc1", "Cc1ccccc1", "CCO"))
    assert all(d == pytest.approx(0.0, abs=1e-12) for d in property_distances(a, a).values())
    one_ring = property_values(mols("c1ccccc1", "c1ccncc1"))
    two_rings = property_values(mols("c1ccc2ccccc2c1", "c1ccc2ncccc2c1"))
    distances = property_distances(one_ring, two_rings)
    assert distances["rings"] == distances["aromatic_rings"] == pytest.approx(1.0)
    assert distances["heavy_atoms"] == pytest.approx(4.0)
    assert all(math.isnan(d) for d in property_distances(property_values([]), a).values())


def test_count_histograms_have_one_bin_per_integer_and_share_their_bins() -> None:
    h = histogram(np.array([1.0, 1.0, 3.0]), np.array([2.0, 4.0]), integer=True)
    np.testing.assert_array_equal(h.edges, [0.5, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(h.counts, [2, 0, 1, 0])
    np.testing.assert_array_equal(h.reference_counts, [0, 1, 0, 1])
    np.testing.assert_allclose(h.shares, [2 / 3, 0, 1 / 3, 0])
    np.testing.assert_allclose(h.reference_shares, [0, 0.5, 0, 0.5])


def test_continuous_histograms_cover_both_sets() -> None:
    values = np.array([0.1, 0.2, 0.3])
    reference = np.array([0.5, 0.9])
    h = histogram(values, reference, integer=False, bins=4)
    assert len(h.edges) == 5 and h.edges[0] == 0.1 and h.edges[-1] == 0.9
    assert h.counts.sum() == 3 and h.reference_counts.sum() == 2
    empty = histogram(np.array([]), np.array([]), integer=False, bins=4)
    assert empty.counts.sum() == 0 and np.all(empty.shares == 0)


def test_property_histograms_count_every_molecule_once() -> None:
    generated = property_values(mols("c1ccccc1", "C1CC1", "CCO"))
    reference = property_values(mols("c1ccc2ccccc2c1", "CC(=O)Oc1ccccc1C(=O)O"))
    histograms = property_histograms(generated, reference, bins=10)
    assert set(histograms) == set(PROPERTY_FUNCTIONS)
    for name, h in histograms.items():
        assert h.counts.sum() == 3 and h.reference_counts.sum() == 2, name
        assert len(h.edges) == len(h.counts) + 1


def test_count_histogram_of_ring_sizes() -> None:
    h = count_histogram({3: 1, 6: 1}, {6: 2})
    np.testing.assert_array_equal(h.edges, [2.5, 3.5, 4.5, 5.5, 6.5])
    np.testing.assert_array_equal(h.counts, [1, 0, 0, 1])
    np.testing.assert_array_equal(h.reference_counts, [0, 0, 0, 2])
    assert count_histogram({}, {}).counts.sum() == 0
