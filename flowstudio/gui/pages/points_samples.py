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
        self.logp: np.ndarray | None = None  # each shown point's log p, once asked for
        self.sampled_temperature = 1.0
        self.sampled_seed: int | None = None
        self.resample_button.clicked.connect(self.resample)
        self.temperature.released.connect(lambda _: self.resample())
        self.color_by_logp.toggled.connect(lambda _: self.recolor())
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
        seed = int(np.random.default_rng().integers(2**31))  # recorded in exports

        def done(result) -> None:
            self.sampled, self.logp = result
            self.sampled_temperature, self.sampled_seed = temperature, seed
            self._draw()

        self.submit("samples", lambda: self.adapter.sample(task, k, p, temperature, with_logp, seed), done)

    def recolor(self) -> None:
        """Colour the clouds shown by log p(x), or take the colour off: the same shapes, not
        new ones (log p is computed once per set of samples)."""
        if self.sampled is None or self.model is None:
            return
        if not self.color_by_logp.isChecked() or self.logp is not None:
            self._draw()
            return
        task, clouds = self.model.task, self.sampled

        def done(logp: np.ndarray) -> None:
            if self.sampled is clouds:
                self.logp = logp
                self._draw()

        self.submit("samples", lambda: self.adapter.log_likelihood(task, clouds), done)

    def _draw(self) -> None:
        clouds, colored = self.sampled, self.color_by_logp.isChecked() and self.logp is not None
        self.view.show_clouds(
            list(clouds),
            scalars=list(self.logp) if colored else None,
            scalar_title="log p(x)",
            cmap="plasma" if colored else None,
            title=f"{len(clouds)} samples · T = {self.sampled_temperature:.2f}"
            + (" · colored by log p(x)" if colored else ""),
        )
