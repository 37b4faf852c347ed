"""A data shape encoded to its latent and decoded again (PointFlow), beside the input."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.points import has_latent, thin


class ReconstructionPage(AnalysisPage):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.shape = QComboBox(self)
        self.shape.setMinimumWidth(160)
        self.shape.setToolTip("The input shape to encode and decode")
        self.button = QPushButton("Reconstruct", self)
        self.view = CloudView(self, "Reconstruction needs a PointFlow model.\n" + NO_MODEL)
        self.button.clicked.connect(self.refresh)
        self.lay_out(controls_row(QLabel("Shape"), self.shape, self.button), self.view)

    def set_shapes(self, names: list[str]) -> None:
        self.shape.clear()
        self.shape.addItems(names)

    def stale(self) -> bool:
        return self.view.draw_count == 0

    def refresh(self) -> None:
        shapes = self.workspace.shapes()
        if self.model is None or shapes is None:
            return
        if not has_latent(self.model.task):
            self.view.set_placeholder(
                "Reconstruction needs a PointFlow model: this model "
                f"({self.model.model_name}) has no encoder."
            )
            return
        shape = thin(shapes[max(0, self.shape.currentIndex())])
        task = self.model.task

        def done(recon: np.ndarray) -> None:
            self.view.show_clouds([shape, recon], labels=["input", "reconstruction"], columns=2)

        self.submit("reconstruct", lambda: self.kind.reconstruct(task, shape), done)
