"""The MOSES metrics of freshly generated molecules against the training data, each with
its one line of help as a tooltip."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSpinBox

from flowstudio.gui.pages.base import AnalysisPage
from flowstudio.gui.views_molecules import MetricsTable
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.molecules import training_smiles
from flowstudio.workbench.texts import metrics_caption


class MetricsPage(AnalysisPage):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.count = QSpinBox(self)
        self.count.setRange(10, 30000)
        self.count.setValue(500)
        self.count.setPrefix("samples ")
        self.fcd = QCheckBox("FCD (slow on a CPU)", self)
        evaluate = QPushButton("Evaluate", self)
        evaluate.setToolTip("Generate molecules and compute the MOSES metrics against the data")
        evaluate.clicked.connect(self.refresh)
        self.table = MetricsTable(self)
        self.caption = QLabel(
            "Press Evaluate: the metrics are computed at the Samples page's temperature.", self
        )
        self.caption.setObjectName("SummaryLabel")
        self.lay_out(controls_row(self.count, self.fcd, evaluate), self.table, self.caption)

    def refresh(self) -> None:
        if self.model is None or self.workspace.data is None:
            self.workspace.error("Metrics need a trained model and the training data.")
            return
        model, n, fcd = self.model, self.count.value(), self.fcd.isChecked()
        train = training_smiles(self.workspace.data)
        temperature = self.workspace.generation_page.temperature.value()
        caption = metrics_caption(temperature, n, model.model_name, model.step)
        self.table.set_metrics({"computing…": None})
        self.caption.setText(f"Computing: {caption}…")

        def done(metrics) -> None:
            self.table.set_metrics(metrics, self.adapter.metric_help())
            self.caption.setText(caption)

        self.submit("metrics", lambda: self.adapter.evaluate(model, n, temperature, train, fcd), done)
