"""The MOSES metrics of freshly generated molecules against the training data."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QPushButton, QSpinBox

from flowstudio.gui.pages.base import AnalysisPage
from flowstudio.gui.views_molecules import MetricsTable
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.molecules import training_smiles

METRIC_TIPS = {
    "valid": "Fraction of generated molecules RDKit accepts",
    "valid_without_check": "Valid molecules that needed no valency correction (GraphAF's 'w/o check')",
    "unique@1000": "Distinct canonical SMILES among the first 1,000 valid molecules",
    "unique@10000": "Distinct canonical SMILES among the first 10,000 valid molecules",
    "unique": "Distinct canonical SMILES among all valid molecules",
    "novel": "Distinct valid molecules that are not in the training set",
    "IntDiv1": "Internal diversity: 1 - mean Tanimoto similarity between generated molecules",
    "IntDiv2": "Internal diversity with the squared similarity (p = 2)",
    "IntDiv": "Same as IntDiv1",
    "SNN/Test": "Mean similarity of each generated molecule to its nearest reference molecule",
    "Frag/Test": "Cosine similarity of BRICS fragment counts to the reference (1 = same)",
    "Scaf/Test": "Cosine similarity of Bemis-Murcko scaffold counts to the reference (1 = same)",
    "FCD/Test": "Fréchet ChemNet Distance to the reference set (lower is better)",
    "logP": "Wasserstein distance of the logP distribution to the reference (lower is better)",
    "SA": "Wasserstein distance of synthetic-accessibility scores to the reference",
    "QED": "Wasserstein distance of drug-likeness (QED) to the reference",
    "weight": "Wasserstein distance of molecular weights to the reference",
    "heavy_atoms": "Wasserstein distance of heavy-atom counts to the reference",
    "heavy_atoms_mean": "Mean heavy atoms per generated molecule",
    "heavy_atoms_mean_ref": "Mean heavy atoms per reference molecule",
}


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
        self.lay_out(controls_row(self.count, self.fcd, evaluate), self.table)

    def refresh(self) -> None:
        if self.model is None or self.workspace.data is None:
            self.workspace.error("Metrics need a trained model and the training data.")
            return
        model, n, fcd = self.model, self.count.value(), self.fcd.isChecked()
        train = training_smiles(self.workspace.data)
        temperature = self.workspace.generation_page.temperature.value()
        self.table.set_metrics({"computing…": None})
        self.submit(
            "metrics",
            lambda: self.adapter.evaluate(model, n, temperature, train, fcd),
            lambda metrics: self.table.set_metrics(metrics, METRIC_TIPS),
        )
