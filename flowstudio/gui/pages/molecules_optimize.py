"""Property optimization in GraphAF's latent space: a start molecule walked along the fitted
direction of a property, and the best molecule found within a Tanimoto similarity bound."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QPushButton, QVBoxLayout

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_molecules import MoleculeGrid
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.latent_edits import MoleculeOptimizer, Optimization
from flowstudio.workbench.molecules import training_smiles

PROPERTY_CHOICES = (
    ("qed", "QED"),
    ("plogp", "penalized logP"),
    ("logp", "logP"),
    ("sa", "SA (lower)"),
    ("mw", "molecular weight"),
)


class OptimizationPage(AnalysisPage):
    action = "type or pick a start molecule and press Optimize"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.start = QLineEdit(self)
        self.start.setPlaceholderText("start molecule (SMILES)")
        self.start.setMinimumWidth(280)
        self.start.returnPressed.connect(self.refresh)
        use = QPushButton("← selected", self)
        use.setToolTip("Use the molecule last clicked in any grid")
        use.clicked.connect(self._use_selected)
        self.prop = QComboBox(self)
        for key, label in PROPERTY_CHOICES:
            self.prop.addItem(label, key)
        self.prop.setToolTip("The property to improve; its direction is fitted on the loaded molecules")
        self.similarity = QDoubleSpinBox(self)
        self.similarity.setRange(0.0, 1.0)
        self.similarity.setSingleStep(0.05)
        self.similarity.setValue(0.4)
        self.similarity.setPrefix("similarity ≥ ")
        self.similarity.setToolTip("The smallest Tanimoto similarity (Morgan fingerprints) to the start")
        self.distance = QDoubleSpinBox(self)
        self.distance.setRange(0.5, 50.0)
        self.distance.setValue(24.0)
        self.distance.setPrefix("walk to α = ")
        self.distance.setToolTip("How far the walk goes along the direction, in latent units")
        self.button = QPushButton("Optimize", self)
        self.button.clicked.connect(self.refresh)
        self.summary = QLabel(NO_MODEL, self)
        self.summary.setObjectName("SummaryLabel")
        self.summary.setWordWrap(True)
        self.grid = MoleculeGrid(self, placeholder=f"Pick a start molecule and press Optimize.\n{NO_MODEL}")
        self.optimizer = MoleculeOptimizer()
        self.result: Optimization | None = None
        controls = QVBoxLayout()  # two rows, so that the window still fits a 1280-pixel screen
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(0)
        controls.addLayout(controls_row(QLabel("Start"), self.start, use))
        controls.addLayout(controls_row(self.prop, self.similarity, self.distance, self.button))
        self.lay_out(
            controls,
            self.grid,
            self.summary,
        )

    def set_start(self, smiles: str) -> None:
        self.start.setText(smiles)

    def _use_selected(self) -> None:
        if self.workspace.selected_smiles:
            self.start.setText(self.workspace.selected_smiles)
        else:
            self.workspace.notify("Click a molecule in any grid first.")

    def refresh(self) -> None:
        if self.model is None:
            self.workspace.error("Optimization needs a trained model: train one or open a checkpoint.")
            return
        model = self.model.task.model
        training = training_smiles(self.workspace.data)
        smiles, prop = self.start.text(), self.prop.currentData()
        similarity, distance = self.similarity.value(), self.distance.value()
        self.summary.setText("fitting the direction and decoding the walk…")

        def done(result: Optimization) -> None:
            self.result = result
            self.grid.set_entries(result.walk + ([result.best] if result.best else []))
            self.summary.setText(result.summary)

        self.submit(
            "optimize",
            lambda: self.optimizer.run(model, training, smiles, prop, similarity, distance),
            done,
        )
