"""The model's log-density on a plane through 3-D space, with the points near the plane
drawn on it; dragging the offset recomputes after a short pause."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_slice import DensitySliceView
from flowstudio.gui.widgets import LabeledSlider, controls_row
from flowstudio.workbench.points import SliceImage

DRAG_PAUSE_MS = 120


class DensitySlicePage(AnalysisPage):
    action = "move the offset"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.axis = QComboBox(self)
        self.axis.addItems(["x", "y", "z"])
        self.axis.setCurrentText("z")
        self.axis.setToolTip("The plane's normal axis")
        self.offset = LabeledSlider("Offset", -1.0, 1.0, 0.0, 200, tooltip="Where the plane cuts the axis")
        self.resolution = QSpinBox(self)
        self.resolution.setRange(16, 256)
        self.resolution.setValue(96)
        self.resolution.setPrefix("grid ")
        self.view = DensitySliceView(self)
        self.view.placeholder = NO_MODEL
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DRAG_PAUSE_MS)
        self._timer.timeout.connect(self.refresh)
        self.axis.currentIndexChanged.connect(lambda _: self._axis_changed())
        self.offset.released.connect(lambda _: self.refresh())
        self.offset.slider.valueChanged.connect(lambda _: self._timer.start())
        self.resolution.valueChanged.connect(lambda _: self.refresh())
        self.lay_out(controls_row(QLabel("Normal"), self.axis, self.offset, self.resolution), self.view)

    def fit_offset(self, shapes: np.ndarray | None, axis: int | None = None) -> None:
        """The offset slider spans the data along the normal (all coordinates when ``axis``
        is ``None``) and starts in the middle."""
        if shapes is None:
            return
        values = shapes if axis is None else shapes[..., axis]
        lo, hi = float(values.min()), float(values.max())
        self.offset.set_range(lo, hi)
        self.offset.set_value((lo + hi) / 2)

    def _axis_changed(self) -> None:
        self.fit_offset(self.workspace.shapes(), "xyz".index(self.axis.currentText()))
        self.refresh()

    def stale(self) -> bool:
        return self.view._image is None

    def refresh(self) -> None:
        if self.model is None:
            return
        task, axis = self.model.task, self.axis.currentText()
        offset, resolution = self.offset.value(), self.resolution.value()
        shapes = self.workspace.shapes()
        sampled = self.workspace.samples_page.sampled
        reference = sampled[0] if sampled is not None else (shapes[0] if shapes is not None else None)

        def done(image: SliceImage) -> None:
            self.view.set_slice(image.log_p, image.extent, image.overlay, image.axes, image.caption)

        self.submit(
            "slice",
            lambda: self.adapter.density_slice(task, axis, offset, resolution, shapes, reference),
            done,
        )
