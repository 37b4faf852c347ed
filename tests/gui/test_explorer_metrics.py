"""Metrics in the window without blocking it (issue 15, and issue 13's histograms): point
clouds against the held-out shapes with progress, molecules with property and ring-size
histograms over the training set's, both tables captioned with temperature and count."""

from __future__ import annotations

import pytest

from tests.gui.conftest import changed, grab, train_tiny
from tests.gui.test_molecules_workspace import TINY_GRAPHAF

pytestmark = pytest.mark.gui


def test_point_cloud_metrics_against_held_out_shapes(window, qtbot) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=2)
    qtbot.waitUntil(lambda: ws.state == "idle" and ws.model is not None and not ws.jobs.busy, timeout=60_000)
    page = ws.metrics_page
    ws.tabs.setCurrentWidget(page)
    page.shapes.setValue(4)
    page.points.setValue(64)
    page.refresh()
    assert page.progress.isVisible() and not page.evaluate_button.isEnabled()
    qtbot.waitUntil(lambda: page.evaluation is not None, timeout=120_000)
    rows = {page.table.item(r, 0).text(): page.table.item(r, 1).text() for r in range(page.table.rowCount())}
    assert 0 <= float(rows["1-NNA-CD"]) <= 1 and rows["MMD-EMD"] == "n/a"
    assert "4 samples" in page.caption.text() and "T = " in page.caption.text()
    assert not page.progress.isVisible() and page.evaluate_button.isEnabled()


def test_molecule_metrics_with_histograms(window, qtbot, tmp_path) -> None:
    from flowstudio.molecules.samples import default_molecule_set

    ws = window.molecules
    small = tmp_path / "small.smi"
    small.write_text("\n".join(default_molecule_set().path.read_text().splitlines()[:60]) + "\n")
    window.open_path(small)
    qtbot.waitUntil(lambda: ws.data is not None, timeout=30_000)
    ws.params.set_values({**TINY_GRAPHAF, "iters": 2})
    ws.start_training()
    qtbot.waitUntil(lambda: ws.state == "idle" and ws.model is not None and not ws.jobs.busy, timeout=90_000)
    page = ws.metrics_page
    ws.tabs.setCurrentWidget(page)
    blank = grab(page.histograms)
    page.count.setValue(12)
    page.refresh()
    qtbot.waitUntil(lambda: page.evaluation is not None, timeout=120_000)
    keys = [panel.key for panel in page.histograms.panels]
    assert keys[0] == "ring_size" and "QED" in keys
    assert changed(blank, grab(page.histograms))
    assert "12 samples" in page.caption.text()
    # the Filters row's help names the rules the samples failed (or says none did)
    rows = {page.table.item(r, 0).text(): r for r in range(page.table.rowCount())}
    tip = page.table.item(rows["Filters"], 2).toolTip()
    assert page.evaluation.notes["Filters"] in tip and tip.startswith("Valid molecules passing")
    # ... and the unseen ring systems' row the kinds of ring system the data lacks (or says none)
    tip = page.table.item(rows["unseen_ring_systems"], 2).toolTip()
    assert page.evaluation.notes["unseen_ring_systems"] in tip and tip.startswith("Generated molecules with")
