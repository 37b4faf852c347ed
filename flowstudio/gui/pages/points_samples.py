"""Point clouds drawn from the model at a temperature, optionally colored by each point's
log-likelihood."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QCheckBox, QPushButton, QSpinBox

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon


class PointSamplesPage(AnalysisPage):
    action = "press Resample"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.sample_count = QSpinBox(self)
        self.sample_count.setRange(1, 32)
        self.sample_count.setValue(6)
        self.sample_count.setPrefix("shapes ")
        self.sample_count.setToolTip("How many clouds to sample")
        self.sample_points = QSpinBox(self)
        self.sample_points.setRange(64, 20000)
        self.sample_points.setSingleStep(256)
        self.sample_points.setValue(2048)
        self.sample_points.setPrefix("points ")
        self.sample_points.setToolTip("Points per sampled cloud")
        self.temperature = LabeledSlider(
            "Temperature",
            0.0,
            1.5,
            1.0,
            150,
            tooltip=(
                "Scales the base noise: below 1 gives cleaner, more typical shapes; above 1 more varied ones"
            ),
        )
        self.color_by_logp = QCheckBox("Color by log p(x)", self)
        self.color_by_logp.setToolTip("Color each point by its log-likelihood under the model")
        self.resample_button = QPushButton(icon("dice"), "Resample", self)
        self.resample_button.setToolTip("Draw new samples")
        self.view = CloudView(self, NO_MODEL)
        self.sampled: np.ndarray | None = None
        self.resample_button.clicked.connect(self.resample)
        self.temperature.released.connect(lambda _: self.resample())
        self.color_by_logp.toggled.connect(lambda _: self.resample())
        self.lay_out(
            controls_row(
                self.sample_count,
                self.sample_points,
                self.temperature,
                self.color_by_logp,
                self.resample_button,
            ),
            self.view,
        )

    def resample(self) -> None:
        if self.model is None:
            return
        task, k, p = self.model.task, self.sample_count.value(), self.sample_points.value()
        temperature, with_logp = self.temperature.value(), self.color_by_logp.isChecked()

        def done(result) -> None:
            clouds, logp = result
            self.sampled = clouds
            self.view.show_clouds(
                list(clouds),
                scalars=None if logp is None else list(logp),
                scalar_title="log p(x)",
                cmap="plasma" if logp is not None else None,
                title=f"{len(clouds)} samples · T = {temperature:.2f}"
                + (" · colored by log p(x)" if logp is not None else ""),
            )

        self.submit("samples", lambda: self.adapter.sample(task, k, p, temperature, with_logp), done)
