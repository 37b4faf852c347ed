"""The window's metrics: held-out shapes from the data's split, histogram panels in order."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from flowstudio.errors import BadInputError
from flowstudio.workbench import evaluation


def test_held_out_shapes_come_from_the_test_split() -> None:
    points = np.arange(10)[:, None, None] * np.ones((10, 4, 3))
    split = np.array(["train"] * 6 + ["test"] * 4)
    refs = evaluation.held_out_shapes(SimpleNamespace(points=points, split=split), limit=3)
    assert len(refs) == 3 and set(refs[:, 0, 0]) <= {6, 7, 8, 9} and refs[0, 0, 0] == 6
    with pytest.raises(BadInputError, match="no train/test split"):
        evaluation.held_out_shapes(SimpleNamespace(points=points, split=None))
    with pytest.raises(BadInputError, match="at least 2"):
        evaluation.held_out_shapes(SimpleNamespace(points=points, split=np.array(["train"] * 9 + ["test"])))


def test_histogram_panels_put_ring_sizes_first() -> None:
    from flowstudio.molecules.metrics import distribution_histograms

    histograms = distribution_histograms(["C1CCCCCCCC1", "c1ccccc1"], ["c1ccccc1", "C1CCCC1", "CCO"])
    panels = evaluation.histogram_panels(histograms)
    assert panels[0].key == "ring_size" and {p.key for p in panels} == set(histograms)
    ring = panels[0]
    nine = np.searchsorted(ring.edges, 9) - 1
    assert ring.shares[nine] > 0 and ring.reference_shares[nine] == 0  # the 9-ring the training set lacks


def test_the_filters_note_names_the_rules_failed_most() -> None:
    from flowstudio.molecules.filters import filter_failure_counts
    from flowstudio.molecules.validity import valid_molecules
    from flowstudio.workbench.molecules import filters_note

    def counts(smiles: list[str | None]) -> dict[str, int]:
        return filter_failure_counts(valid_molecules(smiles)[0])

    # two aldehydes, an acrylamide, a clean benzene, an invalid entry and a failed sample
    note = filters_note(counts(["O=Cc1ccccc1", "O=CCc1ccccc1", "C=CC(=O)NC", "c1ccccc1", "C1CC", None]))
    assert note.startswith("Failing most: ") and note.index("aldehyde") < note.index("acrylamide")
    assert "(2)" in note and "(1)" in note and "more rule" not in note
    assert filters_note(counts(["c1ccccc1", "CCO"])) == "No valid sample fails a filter."
    assert filters_note(counts(["O=Cc1ccccc1", "C=CC(=O)NC"]), top=1).endswith("; 1 more rule.")


def test_the_unseen_kinds_note_names_the_ring_systems_the_training_set_lacks() -> None:
    from flowstudio.molecules.metrics import evaluate
    from flowstudio.workbench.molecules import unseen_kinds_note

    train = ["Cc1ccccc1", "OC1CCNCC1"]  # benzene and piperidine
    samples = ["c1ccc2ccccc2c1", "Cc1ccc2ccccc2c1", "CC1CC1", "c1ccccc1N1CCCCC1", "CCO"]
    result = evaluate(samples, train, fcd=False, unseen_kinds=True)
    assert result["unseen_ring_system_kinds"] == {"c1ccc2ccccc2c1": 2, "C1CC1": 1}
    note = unseen_kinds_note(result["unseen_ring_system_kinds"])
    assert note == "Most frequent: c1ccc2ccccc2c1 (2); C1CC1 (1)."
    assert unseen_kinds_note(result["unseen_ring_system_kinds"], top=1).endswith("; 1 more kind.")
    assert "unseen_ring_system_kinds" not in evaluate(samples, train, fcd=False)
    assert unseen_kinds_note({}).startswith("Every ring system")
