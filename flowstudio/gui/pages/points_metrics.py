"""Point-cloud quality in the window: MMD, COV and 1-NNA (Chamfer, EMD when asked) of
clouds drawn from the current model against the data's held-out shapes, computed on the
model thread with a progress bar, captioned with the temperature and sample count."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QSpinBox

from flowstudio.errors import BadInputError
from flowstudio.gui.pages.metrics_base import MetricsPageBase
from flowstudio.gui.views_molecules import MetricsTable
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.evaluation import (
    POINT_METRIC_HELP,
    POINT_METRICS_MAX_SHAPES,
    POINT_METRICS_POINTS,
    held_out_shapes,
)


class PointMetricsPage(MetricsPageBase):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.shapes = QSpinBox(self)
        self.shapes.setRange(2, 2000)
        self.shapes.setValue(POINT_METRICS_MAX_SHAPES)
        self.shapes.setPrefix("held-out shapes ≤ ")
        self.shapes.setToolTip("As many clouds are drawn as held-out shapes are compared")
        self.points = QSpinBox(self)
        self.points.setRange(64, 4096)
        self.points.setValue(POINT_METRICS_POINTS)
        self.points.setPrefix("points ")
        self.emd = QCheckBox("EMD (slow)", self)
        self.emd.setToolTip("Also the earth mover's distance (an optimal assignment per pair)")
        self.evaluate_button.setToolTip(
            "Draw clouds from the model and compare them with the held-out shapes"
        )
        self.table = MetricsTable(self)
        self.lay_out(
            controls_row(self.shapes, self.points, self.emd, self.evaluate_button, self.progress),
            self.table,
            self.caption,
        )

    def refresh(self) -> None:
        if self.model is None or self.workspace.data is None:
            self.workspace.error("Metrics need a trained model and the data's held-out shapes.")
            return
        try:
            refs = held_out_shapes(self.workspace.data.data, self.shapes.value())
        except BadInputError as exc:
            self.workspace.error(f"Cannot evaluate: {exc}")
            return
        task, points, emd = self.model.task, self.points.value(), self.emd.isChecked()
        temperature = self.workspace.samples_page.temperature.value()
        self.table.set_metrics({"computing…": None})
        self.run_evaluation(
            "point-metrics",
            lambda box: self.adapter.evaluate(task, refs, temperature, points, emd, box),
            lambda evaluation: self.table.set_metrics(evaluation.metrics, POINT_METRIC_HELP),
        )
