"""The scores page: the loaded shapes ranked with their outliers coloured, the selected
shape coloured by log p(x), the warning about likelihoods, and the invertibility check."""

from __future__ import annotations

import pytest

from tests.gui.conftest import changed, train_tiny, wait_idle

pytestmark = pytest.mark.gui


def test_scores_rank_the_collection_and_show_the_selected_shape(window, qtbot) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=3)
    wait_idle(qtbot, ws)
    qtbot.waitUntil(lambda: ws.model is not None and not ws.jobs.busy, timeout=60_000)
    page = ws.scores_page
    ws.tabs.setCurrentWidget(page)
    assert "Nalisnick" in page.caption.text()
    before = page.view.image()
    page.refresh()
    qtbot.waitUntil(lambda: page.result is not None and not ws.jobs.busy, timeout=120_000)
    result = page.result
    n = len(ws.data.data.names)
    assert page.table.rowCount() == len(result.names) == min(n, 400)
    values = [float(page.table.item(row, 2).text()) for row in range(page.table.rowCount())]
    assert values == sorted(values), "the most anomalous shape comes first"
    assert "Nalisnick" in page.caption.text() and "ranked by" in page.caption.text()
    qtbot.waitUntil(lambda: page.view.draw_count >= 1, timeout=30_000)
    assert changed(before, page.view.image()), "the selected shape was not drawn"

    # another score re-ranks without scoring again
    page.score.setCurrentIndex(page.score.findData("typicality"))
    assert page.result.score == "typicality"
    values = [float(page.table.item(row, 2).text()) for row in range(page.table.rowCount())]
    assert values == sorted(values)

    page.check()
    qtbot.waitUntil(lambda: page.diagnostics is not None and not ws.jobs.busy, timeout=120_000)
    assert "round trip on data" in page.caption.text()
    assert "point_flow" in page.diagnostics["flows"]
