"""A slider under the live samples that scrubs back through the run's training history
(:mod:`flowstudio.workbench.history`): left is the first snapshot, the right end follows
the live samples again."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget


class HistoryBar(QWidget):
    """``picked(index)`` when the user moves to a snapshot; ``index`` -1 means live."""

    picked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("HistoryBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.caption = QLabel("History", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip(
            "Scrub back through what the model drew during training; the right end is live"
        )
        self.readout = QLabel("live", self)
        self.readout.setMinimumWidth(150)
        for w in (self.caption, self.slider, self.readout):
            layout.addWidget(w, 1 if w is self.slider else 0)
        self.steps: list[int] = []
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._moved)
        self.setMaximumHeight(34)

    @property
    def live(self) -> bool:
        return self.slider.value() >= len(self.steps)

    def set_steps(self, steps: list[int]) -> None:
        """The snapshots' steps; a bar at the live end stays there."""
        was_live = self.live
        self.steps = list(steps)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.steps))
        if was_live:
            self.slider.setValue(len(self.steps))
        self.slider.blockSignals(False)
        self._show_readout()

    def _moved(self, _: int) -> None:
        self._show_readout()
        self.picked.emit(-1 if self.live else self.slider.value())

    def _show_readout(self) -> None:
        i, n = self.slider.value(), len(self.steps)
        self.readout.setText("live" if i >= n else f"step {self.steps[i]:,} ({i + 1}/{n})")
