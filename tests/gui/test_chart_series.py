"""The loss chart's series as arrays: converted point by point as the run grows (a repaint
of a long run used to turn every list into an array several times over), and the chart
still draws what was added last."""

from __future__ import annotations

import numpy as np

from flowstudio.gui.chart_painting import Series
from tests.gui.conftest import changed, grab


def test_a_series_converts_only_the_points_added_and_follows_a_replaced_list() -> None:
    s = Series("nll", "#58a6ff", False)
    s.steps += [1.0, 2.0]
    s.values += [5.0, 4.0]
    first = s.arrays()
    s.steps.append(3.0)
    s.values.append(3.5)
    steps, values = s.arrays()
    np.testing.assert_array_equal(steps, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(values, [5.0, 4.0, 3.5])
    assert s.arrays()[1] is values  # nothing new: the same arrays, no conversion
    assert first[1].tolist() == [5.0, 4.0]  # an earlier answer is not changed behind its back
    s.steps, s.values = [7.0], [1.0]  # replaced by a shorter list (a redraw from the start)
    np.testing.assert_array_equal(s.arrays()[1], [1.0])


def test_a_long_run_keeps_drawing_the_points_added_last(qtbot) -> None:
    """A chart drawn at step 5,000 and again after 400 more steps looks like one given all
    5,400 at once (and not like its first picture: the loss dropped)."""
    from flowstudio.gui.charts import LossChart

    rng = np.random.default_rng(0)
    points = [(step, 2 + 0.3 * rng.normal() - 5 * (step >= 5_000)) for step in range(5_400)]
    charts = []
    for _ in range(2):
        chart = LossChart()
        qtbot.addWidget(chart)
        chart.resize(800, 300)
        chart.show()
        charts.append(chart)
    growing, whole = charts
    for step, loss in points[:5_000]:  # min/max envelopes per pixel column
        growing.add(step, {"loss": loss}, {"NFE forward": 8.0})
    before = grab(growing)
    for step, loss in points[5_000:]:
        growing.add(step, {"loss": loss}, {"NFE forward": 8.0})
    for step, loss in points:
        whole.add(step, {"loss": loss}, {"NFE forward": 8.0})
    after = grab(growing)
    assert changed(before, after)
    assert not changed(after, grab(whole), threshold=0.05)
