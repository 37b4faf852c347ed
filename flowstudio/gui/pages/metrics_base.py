"""What both metrics pages share: an Evaluate button, a progress bar that follows the job
on the model thread (polled from a :class:`~flowstudio.workbench.evaluation.ProgressBox`,
so the window never waits), and a caption naming the model, step, temperature and sample
count the table was computed at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from flowstudio.gui.pages.base import AnalysisPage
from flowstudio.workbench.evaluation import Evaluation, ProgressBox
from flowstudio.workbench.texts import metrics_caption

POLL_MS = 200


class MetricsPageBase(AnalysisPage):
    action = "press Evaluate"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.evaluate_button = QPushButton("Evaluate", self)
        self.evaluate_button.clicked.connect(self.refresh)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.caption = QLabel(
            "Press Evaluate: the metrics are computed at the Samples page's temperature.", self
        )
        self.caption.setObjectName("SummaryLabel")
        self.caption.setWordWrap(True)
        self.evaluation: Evaluation | None = None
        self._box: ProgressBox | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._show_progress)

    def run_evaluation(
        self, key: str, work: Callable[[ProgressBox], Evaluation], done: Callable[[Any], None]
    ) -> None:
        """Run ``work(progress)`` on the model thread; the bar follows it; ``done`` draws."""
        box = self._box = ProgressBox(stage="waiting for the model thread")
        model = self.model

        def finished(evaluation: Evaluation) -> None:
            if box is not self._box:
                return
            self._stop()
            self.evaluation = evaluation
            self.caption.setText(
                metrics_caption(evaluation.temperature, evaluation.samples, model.model_name, model.step)
            )
            done(evaluation)

        self.submit(key, lambda: work(box), finished)
        self.evaluate_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self._show_progress()
        self._poll.start()

    def _show_progress(self) -> None:
        box = self._box
        if box is None:
            return
        self.progress.setValue(round(1000 * box.fraction))
        self.progress.setFormat(f"{box.stage} · {box.fraction:.0%}")
        if not self.workspace.jobs.busy and self._poll.isActive():
            self._stop()  # the job failed: its message is in the banner and the log

    def _stop(self) -> None:
        self._poll.stop()
        self.progress.hide()
        self.evaluate_button.setEnabled(True)
