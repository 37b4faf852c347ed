"""The molecule Scores page: the loaded set ranked by a GraphAF score with outliers marked
and drawn, another file scored (a molecule the model cannot generate comes first), and the
invertibility check."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import changed, grab
from tests.gui.test_molecules_workspace import small_set, tiny_model_on  # noqa: F401 (a fixture)

pytestmark = pytest.mark.gui


def _values(page) -> list[float]:
    return [float(page.table.item(row, 1).text()) for row in range(page.table.rowCount())]


def test_molecules_are_ranked_drawn_and_checked(window, qtbot, small_set, tmp_path) -> None:  # noqa: F811
    ws = tiny_model_on(window, qtbot, small_set)
    page = ws.scores_page
    ws.tabs.setCurrentWidget(page)
    assert "Nalisnick" in page.caption.text()
    before = grab(page.grid)
    page.refresh()
    assert page.progress.isVisible()  # the bar follows the job on the model thread
    qtbot.waitUntil(lambda: page.result is not None and not ws.jobs.busy, timeout=120_000)
    qtbot.waitUntil(lambda: not page.progress.isVisible(), timeout=5_000)
    loaded = ws.data.data["set"]
    assert page.table.rowCount() == len(loaded.smiles)
    values = _values(page)
    assert values == sorted(values), "the most anomalous molecule comes first"
    assert "ranked by log-likelihood per heavy atom" in page.caption.text()
    assert page.grid.cards and changed(before, grab(page.grid)), "the ranked molecules were not drawn"
    first = page.result.order[0]
    assert page.grid.entries[0].smiles == page.result.smiles[first]
    outliers = page.result.outliers
    for row, index in enumerate(page.result.order):  # outliers, and only they, are coloured
        coloured = page.table.item(row, 0).background().style() != Qt.BrushStyle.NoBrush
        assert coloured == bool(outliers[index])

    # another score re-ranks the same molecules without scoring again
    page.score.setCurrentIndex(page.score.findData("log_likelihood"))
    assert page.result.score == "log_likelihood" and _values(page) == sorted(_values(page))
    page.table.selectRow(30)  # a molecule past the tiles shown: the tiles follow it
    assert page.grid.entries[0].smiles == page.result.smiles[page.result.order[30]]
    assert ws.selected_smiles == page.grid.entries[0].smiles

    # a file with a molecule outside the model's atom types: probability zero, first, coloured
    other = tmp_path / "other.smi"
    other.write_text("CCO ethanol\nC[Si](C)(C)C silane\nc1ccccc1O phenol\n")
    page.score_file(other)
    qtbot.waitUntil(lambda: page.result is not None and page.result.source == "other.smi", timeout=120_000)
    qtbot.waitUntil(lambda: not ws.jobs.busy, timeout=60_000)
    assert page.table.rowCount() == 3 and page.table.item(0, 3).text() == "silane"
    assert math.isinf(page.result.value(page.result.order[0])) and page.result.outliers[page.result.order[0]]
    assert "cannot generate" in page.caption.text()

    page.check()
    qtbot.waitUntil(lambda: page.diagnostics is not None and not ws.jobs.busy, timeout=120_000)
    assert page.diagnostics["healthy"], page.diagnostics["flags"]
    assert "steps: classifiers" in page.caption.text()  # the presets' model has no step flow
    assert "graph round trip" in page.caption.text()
    assert "No flag: each molecule decodes back" in page.caption.text()
