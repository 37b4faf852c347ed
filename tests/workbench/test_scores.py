"""The scores page's Qt-free logic: outliers of a collection, re-ranking, diagnostics text."""

from __future__ import annotations

import numpy as np

from flowstudio.workbench.scores import RankedShapes, diagnostics_text, outlier_mask


def test_outliers_lie_far_below_the_collections_median() -> None:
    values = np.array([-2.0, -2.1, -1.9, -2.05, -1.95, -9.0, np.nan, 5.0])
    assert outlier_mask(values).tolist() == [False] * 5 + [True, True, False]  # too likely is not low
    assert not outlier_mask(np.array([1.0, 1.0, 1.0])).any()


def test_ranking_by_another_score_reorders_and_recomputes_outliers() -> None:
    columns = {
        "a": np.array([3.0, 1.0, 2.0, 2.1, 2.2, 2.05]),
        "b": np.array([0.0, 1.0, 2.0, 3.0, 4.0, np.nan]),
    }
    ranked = RankedShapes([f"s{i}" for i in range(6)], "a", columns, np.arange(6), np.zeros(6, bool),
                          np.zeros((6, 2, 3)), np.zeros((6, 2))).by("a")
    assert ranked.order.tolist() == [1, 2, 5, 3, 4, 0]
    assert ranked.outliers[1] and not ranked.outliers[0]
    by_b = ranked.by("b")
    assert by_b.order[0] == 5 and by_b.outliers[5]  # an undefined value ranks first and is flagged
    assert not ranked.defined("missing") and by_b.defined("b")


def test_diagnostics_text_lists_each_flow_and_its_flags() -> None:
    section = {
        "round_trip_data": {"max": 0.2, "mean": 0.1}, "round_trip_samples": None,
        "log_det": {"max": 1e-4}, "lipschitz": {"forward": 2.0, "inverse": None},
    }
    text = diagnostics_text({"flows": {"point_flow": section}, "flags": ["point_flow: round trip"]})
    assert "point_flow: round trip on data: max 0.2" in text and "not finite inverse" in text
    assert "⚠ point_flow: round trip" in text
    assert "No flag" in diagnostics_text({"flows": {}, "flags": []})


def test_molecule_diagnostics_text_says_what_was_checked() -> None:
    from flowstudio.workbench.molecule_scores import diagnostics_text as molecule_text

    section = {
        "round_trip_data": {"max": 1e-6, "mean": 1e-7}, "round_trip_samples": None,
        "log_det": {"max": 1e-5}, "lipschitz": {"forward": 2.0, "inverse": 3.0},
    }
    trips = {"data": {"molecules": 4, "failed": 0, "worst": []}, "samples": {"molecules": 3, "failed": 1}}
    flow = molecule_text({"flows": {"edge_flow": section}, "graph_round_trip": trips, "flags": []})
    assert "edge_flow: round trip on data" in flow and "3 of 3 samples" not in flow
    assert "2 of 3 samples come back the same" in flow and "every step inverts" in flow
    classifier = molecule_text({"flows": {}, "graph_round_trip": trips, "flags": []})
    assert "classifiers" in classifier and "every step inverts" not in classifier
