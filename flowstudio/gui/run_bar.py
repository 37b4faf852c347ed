"""The run controls above the views: Train, Continue last run, Pause / Resume, Stop, the
progress bar and the rate / elapsed / ETA line. It draws a :class:`RunSession`'s state and
the text :mod:`flowstudio.workbench.event_text` makes of its progress; the workspace
connects the buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from flowstudio.gui.widgets import icon
from flowstudio.workbench.event_text import PAUSED_PREFIX, PROGRESS_SCALE, ProgressText


class RunBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RunBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.train_button = QPushButton(icon("play", "#ffffff"), "Train", self)
        self.train_button.setObjectName("TrainButton")
        self.train_button.setToolTip("Start training on the loaded data (F5)")
        self.pause_button = QPushButton(icon("pause"), "Pause", self)
        self.pause_button.setToolTip("Pause after the current step (F6)")
        self.resume_button = QPushButton(icon("resume"), "Resume", self)
        self.resume_button.setToolTip("Continue a paused run (F6)")
        self.stop_button = QPushButton(icon("stop"), "Stop", self)
        self.stop_button.setObjectName("StopButton")
        self.stop_button.setToolTip("End the run after the current step and keep a checkpoint (F7)")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("RunProgress")
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(180)
        self.continue_box = QCheckBox("Continue last run", self)
        self.continue_box.setToolTip(
            "Train on from the last run's latest checkpoint (same model and settings; the step budget "
            "counts the whole run) instead of starting a new run"
        )
        self.continue_box.setChecked(True)
        self.continue_box.hide()
        self.eta_label = QLabel("", self)
        self.eta_label.setObjectName("EtaLabel")
        self.eta_label.setMinimumWidth(230)
        for w in (
            self.train_button,
            self.continue_box,
            self.pause_button,
            self.resume_button,
            self.stop_button,
        ):
            layout.addWidget(w)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.eta_label)

    def show_activity(self, activity: str, resumable: bool) -> None:
        """Enable what the run's state allows: ``idle``, ``running``, ``paused``, ``stopping``."""
        running = activity != "idle"
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(activity == "running")
        self.resume_button.setEnabled(activity == "paused")
        self.stop_button.setEnabled(activity in ("running", "paused"))
        self.continue_box.setVisible(not running and resumable)
        self.pause_button.setVisible(activity != "paused")
        self.resume_button.setVisible(activity == "paused")
        if activity == "paused":
            self.progress.setFormat(PAUSED_PREFIX + self.progress.format())

    def starting(self) -> None:
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.eta_label.setText("")

    def show_progress(self, text: ProgressText) -> None:
        if text.value is not None:
            self.progress.setValue(text.value)
        self.progress.setFormat(text.format)
        self.eta_label.setText(text.detail)

    def done(self) -> None:
        self.progress.setFormat(self.progress.format().replace(PAUSED_PREFIX, "") + " · done")
