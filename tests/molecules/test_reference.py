"""The reference set's statistics: the parts measured on a spread subset stay within their caps."""

from __future__ import annotations

import pytest

from flowstudio.molecules import reference
from flowstudio.molecules.reference import reference_statistics, reference_subset, spread

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Nc1ccc(O)cc1", "c1ccc(-c2ccncc2)cc1", "CN1CCC[C@H]1c1cccnc1"]


def test_spread_takes_evenly_spaced_items_within_the_limit() -> None:
    assert spread(list(range(10)), 3) == [0, 4, 8]
    assert spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert spread([1, 2], 5) == [1, 2]


def test_reference_subset_is_seeded_and_keeps_the_order() -> None:
    items = [str(i) for i in range(100)]
    subset = reference_subset(items, 10, seed=3)
    assert subset == reference_subset(items, 10, seed=3) != reference_subset(items, 10, seed=4)
    assert len(subset) == 10 and subset == sorted(subset, key=int)
    assert reference_subset(items, None) == items


def test_properties_and_filters_use_at_most_their_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference, "PROPERTIES_MAX_REFERENCE", 2)
    monkeypatch.setattr(reference, "FILTERS_MAX_REFERENCE", 2)
    # benzaldehyde fails the filters; the spread of two takes the 1st and 3rd of four
    smiles = ["O=Cc1ccccc1", DRUGS[1], "O=Cc1ccc(C)cc1", DRUGS[2]]
    stats = reference_statistics(smiles)
    assert stats.size == 4 and len(stats.fingerprints) == 4
    assert all(len(values) == 2 for values in stats.properties.values())
    assert stats.filters == 0.0  # both molecules it looked at are aldehydes
    assert stats.ring_counts == {6: 5}  # every molecule: three benzenes and the bipyridyl's two rings
