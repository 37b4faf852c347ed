"""Molecules decoded along GraphAF's latent path between two molecules (typed as SMILES,
or the one last clicked in any grid)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout

from flowstudio.errors import BadInputError
from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_molecules import MoleculeGrid
from flowstudio.gui.widgets import controls_row


class MoleculeInterpolationPage(AnalysisPage):
    action = "pick two molecules and press Interpolate"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.a, self.b = QLineEdit(self), QLineEdit(self)
        self.a.setPlaceholderText("first molecule (SMILES)")
        self.b.setPlaceholderText("second molecule (SMILES)")
        use_a, use_b = QPushButton("← selected", self), QPushButton("← selected", self)
        for use, edit in ((use_a, self.a), (use_b, self.b)):
            use.setToolTip("Use the molecule last clicked in any grid")
            use.clicked.connect(lambda _=False, e=edit: self._use_selected(e))
            edit.setMinimumWidth(320)
        self.steps = QSpinBox(self)
        self.steps.setRange(2, 24)
        self.steps.setValue(8)
        self.steps.setPrefix("steps ")
        button = QPushButton("Interpolate", self)
        button.clicked.connect(self.refresh)
        self.grid = MoleculeGrid(self, placeholder="Pick two molecules and press Interpolate.\n" + NO_MODEL)
        controls = QVBoxLayout()
        controls.addLayout(controls_row(QLabel("A"), self.a, use_a))
        controls.addLayout(controls_row(QLabel("B"), self.b, use_b, self.steps, button))
        self.lay_out(controls, self.grid)

    def set_ends(self, a: str, b: str) -> None:
        self.a.setText(a)
        self.b.setText(b)

    def _use_selected(self, edit: QLineEdit) -> None:
        if self.workspace.selected_smiles:
            edit.setText(self.workspace.selected_smiles)
        else:
            self.workspace.notify("Click a molecule in any grid first.")

    def refresh(self) -> None:
        if self.model is None:
            self.workspace.error("Interpolation needs a trained model: train one or open a checkpoint.")
            return
        try:
            a, b = self.adapter.parse_pair(self.a.text(), self.b.text())
        except BadInputError as exc:
            self.workspace.error(f"Interpolation: {exc}")
            return
        model, steps = self.model.task.model, self.steps.value()
        self.submit(
            "interpolate", lambda: self.adapter.interpolate(model, a, b, steps), self.grid.set_entries
        )
