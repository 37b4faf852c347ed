"""The MOSES metrics of freshly generated molecules against the training data, each with
its one line of help as a tooltip, beside histograms of the samples' properties and ring
sizes over the training set's (a 100% validity cannot hide implausible chemistry)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSpinBox, QSplitter

from flowstudio.gui.pages.metrics_base import MetricsPageBase
from flowstudio.gui.views_histograms import HistogramGrid
from flowstudio.gui.views_molecules import MetricsTable
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.molecules import training_smiles


class MetricsPage(MetricsPageBase):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.count = QSpinBox(self)
        self.count.setRange(10, 30000)
        self.count.setValue(500)
        self.count.setPrefix("samples ")
        self.fcd = QCheckBox("FCD (slow on a CPU)", self)
        self.evaluate_button.setToolTip(
            "Generate molecules, compute the MOSES metrics against the data and draw their "
            "property and ring-size histograms over the training set's"
        )
        self.table = MetricsTable(self)
        self.histograms = HistogramGrid(self)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.histograms)
        split.setSizes([360, 640])
        self.lay_out(
            controls_row(self.count, self.fcd, self.evaluate_button, self.progress), split, self.caption
        )

    def refresh(self) -> None:
        if self.model is None or self.workspace.data is None:
            self.workspace.error("Metrics need a trained model and the training data.")
            return
        model, n, fcd = self.model, self.count.value(), self.fcd.isChecked()
        train = training_smiles(self.workspace.data)
        temperature = self.workspace.generation_page.temperature.value()
        bonds = self.workspace.generation_page.bonds.value()
        self.table.set_metrics({"computing…": None})

        def done(evaluation) -> None:
            tips = dict(self.adapter.metric_help())
            for key, note in evaluation.notes.items():  # e.g. the rules behind Filters
                tips[key] = f"{tips.get(key, '')}. {note}"
            self.table.set_metrics(evaluation.metrics, tips)
            self.histograms.set_panels(evaluation.panels)

        self.run_evaluation(
            "metrics",
            lambda box: self.adapter.evaluate_in_full(model, n, temperature, train, fcd, box, bonds),
            done,
        )
