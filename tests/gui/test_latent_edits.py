"""The latent arithmetic pages: a shape edited live along a group vector, a molecule optimized."""

from __future__ import annotations

import pytest

from tests.gui.conftest import train_tiny, wait_idle
from tests.gui.test_molecules_workspace import small_set, tiny_model_on  # noqa: F401 (a fixture)

pytestmark = pytest.mark.gui


def test_shape_arithmetic_decodes_as_the_strength_moves(window, qtbot) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=3)
    wait_idle(qtbot, ws)
    qtbot.waitUntil(lambda: ws.model is not None and not ws.jobs.busy, timeout=60_000)
    page = ws.arithmetic_page
    ws.tabs.setCurrentWidget(page)  # a fresh page computes when shown
    qtbot.waitUntil(lambda: page.result is not None and not ws.jobs.busy, timeout=60_000)
    assert "vector from" in page.caption.text()
    first = page.view.image()
    for value in (-1.0, 0.5, 2.0):  # dragged: only the latest strength is drawn at the end
        page.strength.set_value(value)
    qtbot.waitUntil(
        lambda: page.result.strength == pytest.approx(2.0) and not ws.jobs.busy, timeout=60_000
    )
    # An almost untrained model moves a shape little: count changed pixels, not their mean
    # change (a view that was not redrawn changes none).
    # (on the common part: a caption that rewraps may move the view's edge by a pixel)
    now = page.view.image()
    h, w = min(first.shape[0], now.shape[0]), min(first.shape[1], now.shape[1])
    assert (first[:h, :w] != now[:h, :w]).any(-1).mean() > 1e-3, "the edited shape was not redrawn"
    page.source.setText("no such shape name")
    page.refresh()
    qtbot.waitUntil(lambda: "no shape name contains" in ws.banner.text(), timeout=60_000)


def test_molecule_optimization_page(window, qtbot, small_set) -> None:  # noqa: F811
    ws = tiny_model_on(window, qtbot, small_set)
    page = ws.optimization_page
    ws.tabs.setCurrentWidget(page)
    page.start.setText("CC(=O)Nc1ccc(O)cc1")
    page.prop.setCurrentIndex(page.prop.findData("mw"))
    page.similarity.setValue(0.2)
    page.refresh()
    qtbot.waitUntil(lambda: page.result is not None and not ws.jobs.busy, timeout=60_000)
    from flowstudio.workbench.latent_edits import WALK_STEPS

    assert len(page.result.walk) == WALK_STEPS + 1 and page.result.walk[0].title.startswith("start")
    assert len(page.grid.entries) == len(page.result.walk) + (page.result.best is not None)
    assert "direction fitted on" in page.summary.text()
    page.start.setText("C1CC(")
    page.refresh()
    qtbot.waitUntil(lambda: "C1CC(" in ws.banner.text() or "SMILES" in ws.banner.text(), timeout=60_000)
