"""A data shape encoded to its latent and decoded again (PointFlow), beside the input."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton

from flowstudio.gui.pages.base import NO_MODEL, LatentPage, fill_shapes, shape_index
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import controls_row, make_searchable
from flowstudio.workbench.points import thin


class ReconstructionPage(LatentPage):
    purpose, lacking = "Reconstruction", "has no encoder"
    needs = "Reconstruction needs a PointFlow model."
    action = "pick a shape and press Reconstruct"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.shape = make_searchable(QComboBox(self))
        self.shape.setMinimumWidth(160)
        self.shape.setToolTip("The input shape to encode and decode")
        self.button = QPushButton("Reconstruct", self)
        self.view = CloudView(self, f"{self.needs}\n{NO_MODEL}")
        self.button.clicked.connect(self.refresh)
        self.lay_out(controls_row(QLabel("Shape"), self.shape, self.button), self.view)

    def set_shapes(self, names: list[str]) -> None:
        fill_shapes(self.shape, names)

    def stale(self) -> bool:
        return self.view.draw_count == 0

    def refresh(self) -> None:
        inputs = self.latent_inputs()
        if inputs is None:
            return
        shapes, task = inputs
        shape = thin(shapes[shape_index(self.shape)])

        def done(recon: np.ndarray) -> None:
            self.view.show_clouds([shape, recon], labels=["input", "reconstruction"], columns=2)

        self.submit("reconstruct", lambda: self.adapter.reconstruct(task, shape), done)
