"""Shapes picked by clicking them in the data preview (issue 15): a real mouse click on the
view, the shape under it found, and a menu that sets it as an interpolation end or the
shape of another analysis."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from flowstudio.gui.pages.base import choose_shape

pytestmark = pytest.mark.gui


def click_shape(qtbot, view, i: int) -> None:
    """A left click on shape ``i`` of ``view``, through Qt, as the user's mouse does it."""
    x, y = view.display_position(i)
    widget = view.plotter.interactor
    ratio = widget.devicePixelRatioF()
    QTest.mouseClick(
        widget,
        Qt.MouseButton.LeftButton,
        pos=QPoint(round(x / ratio), round((widget.height() * ratio - 1 - y) / ratio)),
    )


def test_a_click_on_a_preview_shape_picks_the_interpolation_ends(window, qtbot) -> None:
    ws = window.points
    ws.tabs.setCurrentWidget(ws.preview)
    qtbot.waitUntil(lambda: ws.preview.draw_count > 0, timeout=30_000)
    view, picks, names = ws.preview, ws.preview_picks, ws.data.data.names
    renderer = view.plotter.renderer
    start, end = view._starts[2], view._starts[3]
    renderer.SetWorldPoint(*view._points[(start + end) // 2], 1.0)
    renderer.WorldToDisplay()
    assert view.display_position(2) == pytest.approx(renderer.GetDisplayPoint()[:2], abs=1)

    click_shape(qtbot, view, 2)
    qtbot.waitUntil(lambda: ws.shape_menu is not None and ws.shape_menu.isVisible(), timeout=5_000)
    menu = ws.shape_menu
    assert names[picks[2]] in menu.actions()[0].text()  # the section names the shape clicked
    next(a for a in menu.actions() if a.text().endswith("(A)")).trigger()
    menu.close()
    assert ws.interpolation_page.shape_a.currentData() == picks[2]
    assert ws.tabs.currentWidget() is ws.preview  # the other end is clicked next

    click_shape(qtbot, view, 5)
    qtbot.waitUntil(lambda: ws.shape_menu is not menu and ws.shape_menu.isVisible(), timeout=5_000)
    next(a for a in ws.shape_menu.actions() if a.text().endswith("(B)")).trigger()
    ws.shape_menu.close()
    assert ws.interpolation_page.shape_b.currentData() == picks[5]
    assert ws.tabs.currentWidget() is ws.interpolation_page
    assert ws.interpolation_page.shape_a.currentData() == picks[2]


def test_a_drag_picks_nothing_and_a_shape_past_the_lists_is_added(window, qtbot) -> None:
    ws = window.points
    ws.tabs.setCurrentWidget(ws.preview)
    qtbot.waitUntil(lambda: ws.preview.draw_count > 0, timeout=30_000)
    widget = ws.preview.plotter.interactor
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    QTest.mouseMove(widget, QPoint(260, 230))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=QPoint(260, 230))
    assert ws.shape_menu is None  # a rotation, not a click

    combo = ws.reconstruction_page.shape
    listed = combo.count()
    choose_shape(combo, listed + 3, "late shape")  # big collections list their first shapes only
    assert combo.count() == listed + 1 and combo.currentData() == listed + 3
    choose_shape(combo, 1, "again")
    assert combo.count() == listed + 1 and combo.currentData() == 1
