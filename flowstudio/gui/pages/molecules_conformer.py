"""A 3-D conformer (RDKit ETKDG, relaxed with MMFF94) of a typed or clicked molecule."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from flowstudio.gui.pages.base import AnalysisPage
from flowstudio.gui.views_molecules import Molecule3DView
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.molecules import conformer


class ConformerPage(AnalysisPage):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.view = Molecule3DView(self)
        self.smiles = QLineEdit(self)
        self.smiles.setPlaceholderText("SMILES, or click any molecule")
        show = QPushButton("Show", self)
        show.clicked.connect(lambda: self.show_molecule(self.smiles.text().strip()))
        self.smiles.returnPressed.connect(lambda: self.show_molecule(self.smiles.text().strip()))
        self.lay_out(controls_row(QLabel("Molecule"), self.smiles, show), self.view)

    def show_molecule(self, smiles: str | None, switch: bool = True) -> None:
        """Embed ``smiles`` on the file thread and draw it; ``switch`` brings the page forward."""
        if not smiles:
            return
        self.smiles.setText(smiles)

        def done(result) -> None:
            self.view.show_conformer(smiles, *result)
            if switch:
                self.workspace.tabs.setCurrentWidget(self)

        self.workspace.io_jobs.submit("conformer", lambda: conformer(smiles), done)
