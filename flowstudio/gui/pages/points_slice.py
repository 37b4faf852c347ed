"""The model's log-density on a plane through 3-D space, conditioned on a shape the user
picks (PointFlow encodes it; a single-shape model has only its own), with the shape's
points near the plane drawn on it, iso-density contours, and beside it the shape in 3-D
with the plane through it. Dragging the offset recomputes after a short pause."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox, QSplitter

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage, fill_shapes, shape_index
from flowstudio.gui.views_slice import DensitySliceView, ShapeAndPlaneView
from flowstudio.gui.widgets import LabeledSlider, controls_row, make_searchable
from flowstudio.workbench.points import SliceImage

DRAG_PAUSE_MS = 120


class DensitySlicePage(AnalysisPage):
    action = "move the offset"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.shape = make_searchable(QComboBox(self))
        self.shape.setToolTip("The shape the density is conditioned on (PointFlow encodes it)")
        self.shape.setMinimumWidth(160)
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
        self.shape_view = ShapeAndPlaneView(self, "The conditioning shape and the plane appear here.")
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.view)
        split.addWidget(self.shape_view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.image: SliceImage | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DRAG_PAUSE_MS)
        self._timer.timeout.connect(self.refresh)
        self.axis.currentIndexChanged.connect(lambda _: self._axis_changed())
        self.shape.activated.connect(lambda _: self.refresh())
        self.offset.released.connect(lambda _: self.refresh())
        self.offset.slider.valueChanged.connect(lambda _: self._timer.start())
        self.resolution.valueChanged.connect(lambda _: self.refresh())
        self.lay_out(
            controls_row(
                QLabel("Shape"), self.shape, QLabel("Normal"), self.axis, self.offset, self.resolution
            ),
            split,
        )

    def set_shapes(self, names: list[str]) -> None:
        fill_shapes(self.shape, names)

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

    def conditioning_shape(self) -> np.ndarray | None:
        """The picked shape of the data (the first when none is picked)."""
        shapes = self.workspace.shapes()
        if shapes is None:
            return None
        return shapes[min(shape_index(self.shape), len(shapes) - 1)]

    def refresh(self) -> None:
        if self.model is None:
            return
        task, axis = self.model.task, self.axis.currentText()
        offset, resolution = self.offset.value(), self.resolution.value()
        shapes, reference = self.workspace.shapes(), self.conditioning_shape()
        name = self.shape.currentText()

        def done(image: SliceImage) -> None:
            self.image = image
            self.view.set_slice(
                image.log_p,
                image.extent,
                image.overlay,
                image.axes,
                image.caption,
                image.color_range,
                image.contours,
            )
            if reference is not None:
                self.shape_view.show_shape_and_plane(reference, image.corners, f"conditioned on {name}")

        self.submit(
            "slice",
            lambda: self.adapter.density_slice(task, axis, offset, resolution, shapes, reference),
            done,
        )
