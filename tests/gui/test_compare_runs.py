"""Run comparison in the window: curves overlaid, numbers and settings side by side, the
settings that differ highlighted; runs of two kinds are refused with a message."""

from __future__ import annotations

import pytest

from flowstudio.workbench.runs import summarize
from tests.gui.conftest import changed, grab
from tests.workbench.test_compare import make_run

pytestmark = pytest.mark.gui


def test_two_runs_compared(qtbot, tmp_path) -> None:
    from flowstudio.gui.compare_dialog import DIFFERS, CompareDialog

    a = make_run(tmp_path, "a", "points", 1e-3, [3.0, 2.0, 1.5, 1.2])
    b = make_run(tmp_path, "b", "points", 5e-4, [3.1, 2.5, 2.2])
    m = make_run(tmp_path, "m", "molecules", 1e-3, [1.0])
    dialog = CompareDialog([summarize(p) for p in (a, b, m)])
    qtbot.addWidget(dialog)
    dialog.show()
    blank = grab(dialog.chart)
    dialog.check([a, m])
    dialog.refresh()
    assert dialog.comparison is None and "one kind" in dialog.message.text()
    dialog.check([a, b])
    dialog.refresh()
    assert set(dialog.chart.series) == {"a", "b"} and dialog.chart.series["a"].values == [3.0, 2.0, 1.5, 1.2]
    dialog.chart.repaint()
    assert changed(blank, grab(dialog.chart))
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    assert dialog.table.item(rows["lr"], 1).background().color() == DIFFERS
    assert dialog.table.item(rows["latent_dim"], 1).background().color() != DIFFERS
    assert [dialog.table.item(rows["steps"], c).text() for c in (1, 2)] == ["4", "3"]
