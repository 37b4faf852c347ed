"""What both metrics pages share: an Evaluate button, a progress bar that follows the job
on the model thread (polled from a :class:`~flowstudio.workbench.evaluation.ProgressBox`,
so the window never waits), and a caption naming the model, step, temperature and sample
count the table was computed at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton

from flowstudio.gui.pages.base import AnalysisPage
from flowstudio.gui.pages.job_progress import JobProgress
from flowstudio.workbench.evaluation import Evaluation, ProgressBox
from flowstudio.workbench.texts import metrics_caption


class MetricsPageBase(AnalysisPage):
    action = "press Evaluate"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.evaluate_button = QPushButton("Evaluate", self)
        self.evaluate_button.clicked.connect(self.refresh)
        self.progress = JobProgress(self, lambda: self.workspace.jobs.busy, self._finished)
        self.caption = QLabel(
            "Press Evaluate: the metrics are computed at the Samples page's temperature.", self
        )
        self.caption.setObjectName("SummaryLabel")
        self.caption.setWordWrap(True)
        self.evaluation: Evaluation | None = None

    def run_evaluation(
        self, key: str, work: Callable[[ProgressBox], Evaluation], done: Callable[[Any], None]
    ) -> None:
        """Run ``work(progress)`` on the model thread; the bar follows it; ``done`` draws."""
        box = self.progress.start()
        model = self.model

        def finished(evaluation: Evaluation) -> None:
            if box is not self.progress.box:
                return
            self.progress.finish()
            self.evaluation = evaluation
            self.caption.setText(
                metrics_caption(
                    evaluation.temperature,
                    evaluation.samples,
                    model.model_name,
                    model.step,
                    evaluation.bond_temperature,
                )
            )
            done(evaluation)

        self.submit(key, lambda: work(box), finished)
        self.evaluate_button.setEnabled(False)

    def _finished(self) -> None:
        self.evaluate_button.setEnabled(True)
