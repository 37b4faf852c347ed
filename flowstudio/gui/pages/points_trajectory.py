"""One sample's points carried by the flow from the base noise (t = 0) to the shape
(t = 1), each colored by where it ends up; Play animates it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon

FRAME_MS = 80
PLAY_STEP = 1 / 23


class TrajectoryPage(AnalysisPage):
    action = "press New trajectory"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.time = LabeledSlider("Time", 0.0, 1.0, 1.0, 100, tooltip="0: base noise, 1: the sample")
        self.play = QPushButton(icon("play"), "Play", self)
        self.play.setCheckable(True)
        self.play.setToolTip("Animate the flow from noise to shape")
        self.button = QPushButton(icon("dice"), "New trajectory", self)
        self.view = CloudView(self, NO_MODEL)
        self.frames: np.ndarray | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._advance)
        self.play.toggled.connect(lambda on: self._timer.start() if on else self._timer.stop())
        self.time.value_changed.connect(lambda _: self._draw())
        self.button.clicked.connect(self.refresh)
        self.lay_out(controls_row(self.time, self.play, self.button), self.view)

    def stale(self) -> bool:
        return self.frames is None

    def refresh(self) -> None:
        if self.model is None:
            return
        task = self.model.task

        def done(frames: np.ndarray) -> None:
            self.frames = frames
            self._draw(reset=True)

        self.submit("trajectory", lambda: self.adapter.trajectory(task), done)

    def _draw(self, reset: bool = False) -> None:
        frames = self.frames
        if frames is None:
            return
        i = round(self.time.value() * (len(frames) - 1))
        # color each point by where it ends up, so one can follow it along the flow
        self.view.show_clouds(
            [frames[i]],
            scalars=[frames[-1][:, 1]],
            scalar_title="final height",
            labels=[f"t = {i / (len(frames) - 1):.2f}"],
            reset_camera=reset,
        )

    def _advance(self) -> None:
        value = self.time.value() + PLAY_STEP
        self.time.set_value(0.0 if value > 1.0001 else value)
