"""Shapes decoded along the straight path between two shapes' latents (PointFlow): the
whole strip as a grid of large cells, or the two ends and the shape at t; Play animates t
back and forth. The endpoint lists are searchable by name."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QSpinBox

from flowstudio.gui.pages.base import NO_MODEL, LatentPage, fill_shapes, shape_index
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon, make_searchable

FRAME_MS = 120


class PointInterpolationPage(LatentPage):
    purpose, lacking = "Interpolation", "learns a single shape"
    needs = "Interpolation needs a PointFlow model (it has a shape latent)."
    action = "pick two shapes and press Interpolate"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.shape_a = QComboBox(self)
        self.shape_b = QComboBox(self)
        for combo, tip in ((self.shape_a, "First shape"), (self.shape_b, "Second shape")):
            make_searchable(combo)
            combo.setToolTip(f"{tip}: type part of its name to find it")
            combo.setMinimumWidth(110)
        self.steps = QSpinBox(self)
        self.steps.setRange(2, 24)
        self.steps.setValue(8)
        self.steps.setPrefix("steps ")
        self.button = QPushButton("Interpolate", self)
        self.button.setToolTip("Decode shapes along the straight path between the two shape latents")
        self.slider = LabeledSlider("t", 0.0, 1.0, 0.5, 100)
        self.slider.setToolTip("Where along the path: 0 is the first shape, 1 the second")
        self.strip = QCheckBox("Strip", self)
        self.strip.setToolTip("Show every step side by side; moving t shows one step between the two ends")
        self.strip.setChecked(True)
        self.play = QPushButton(icon("play"), "Play", self)
        self.play.setCheckable(True)
        self.play.setToolTip("Animate the shape moving along the path, back and forth")
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._advance)
        self._direction = 1
        self.play.toggled.connect(self._play)
        self.view = CloudView(self, f"{self.needs}\n{NO_MODEL}")
        self.frames: np.ndarray | None = None
        self.button.clicked.connect(self.refresh)
        self.slider.value_changed.connect(lambda _: self._moved())
        self.strip.toggled.connect(lambda _: self._draw())
        self.lay_out(
            controls_row(
                QLabel("From"),
                self.shape_a,
                QLabel("to"),
                self.shape_b,
                self.steps,
                self.button,
                self.strip,
                self.slider,
                self.play,
            ),
            self.view,
        )

    def set_shapes(self, names: list[str], middle: int | None) -> None:
        """The shapes to pick from; the second end defaults to ``middle``."""
        for combo in (self.shape_a, self.shape_b):
            fill_shapes(combo, names)
        if middle is not None:
            self.shape_b.setCurrentIndex(middle)

    def stale(self) -> bool:
        return self.frames is None

    def refresh(self) -> None:
        inputs = self.latent_inputs()
        if inputs is None:
            return
        shapes, task = inputs
        a, b = shapes[shape_index(self.shape_a)], shapes[shape_index(self.shape_b)]
        steps = self.steps.value()

        def done(frames: np.ndarray) -> None:
            self.frames = frames
            self._draw()

        self.submit("interpolate", lambda: self.adapter.interpolate(task, a, b, steps), done)

    def _moved(self) -> None:
        if self.strip.isChecked():
            self.strip.setChecked(False)  # redraws as A, the shape at t, B
        else:
            self._draw()

    def _draw(self) -> None:
        frames = self.frames
        if frames is None:
            return
        n = len(frames)
        if self.strip.isChecked():  # a grid: cells as large as the view allows
            self.view.show_clouds(list(frames), labels=[f"t={i / (n - 1):.2f}" for i in range(n)])
        else:
            i = round(self.slider.value() * (n - 1))
            self.view.show_clouds(
                [frames[0], frames[i], frames[-1]], labels=["A", f"t={i / (n - 1):.2f}", "B"], columns=3
            )

    def _play(self, on: bool) -> None:
        if on and self.frames is not None:
            self.strip.setChecked(False)
            self._timer.start()
        else:
            self._timer.stop()
            self.play.setChecked(False)

    def _advance(self) -> None:
        """The next step along the path; at either end the animation turns back."""
        if self.frames is None:
            return
        n = len(self.frames)
        i = round(self.slider.value() * (n - 1)) + self._direction
        if not 0 <= i < n:
            self._direction = -self._direction
            i += 2 * self._direction
        self.slider.set_value(min(max(i, 0), n - 1) / (n - 1))
