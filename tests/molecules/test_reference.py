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


def test_training_ring_systems_are_every_kind_of_the_valid_molecules_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rdkit import Chem

    from flowstudio.molecules.reference import training_ring_systems
    from flowstudio.molecules.rings import ring_system_kinds

    monkeypatch.setattr(reference, "BATCH", 2)  # three batches, each a set of its own
    smiles = [*DRUGS, "not a molecule", "c1ccc2[nH]ccc2c1"]
    kinds = training_ring_systems(smiles)
    expected = {k for s in smiles if (m := Chem.MolFromSmiles(s)) is not None for k in ring_system_kinds(m)}
    assert kinds == expected and {"c1ccccc1", "c1ccncc1", "C1CCNC1", "c1ccc2nccc2c1"} <= kinds
    assert training_ring_systems(list(smiles)) is kinds  # cached by the list's contents
