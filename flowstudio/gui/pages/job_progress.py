"""A progress bar that follows a long job on the model thread.

The job writes how far it is into a :class:`~flowstudio.workbench.evaluation.ProgressBox`
(a float and a string, no Qt); the bar polls it on a timer, so the window never waits on
the job. A job that fails ends without a result: the bar notices that the job thread went
idle and stops (the failure's message is already in the banner and the log).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressBar, QWidget

from flowstudio.workbench.evaluation import ProgressBox

POLL_MS = 200


class JobProgress(QProgressBar):
    """Hidden until :meth:`start`; shows the box's stage and fraction until :meth:`finish`
    (or until ``busy()`` is false), then calls ``on_finish``."""

    def __init__(self, parent: QWidget, busy: Callable[[], bool], on_finish: Callable[[], None]) -> None:
        super().__init__(parent)
        self.setRange(0, 1000)
        self.setMaximumWidth(260)
        self.setTextVisible(True)
        self.hide()
        self._busy, self._on_finish = busy, on_finish
        self.box: ProgressBox | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._show)

    def start(self) -> ProgressBox:
        """A new box for the job about to be submitted; the bar follows it from now on."""
        box = self.box = ProgressBox(stage="waiting for the model thread")
        self.setValue(0)
        self.show()
        self._show()
        self._poll.start()
        return box

    def finish(self) -> None:
        self._poll.stop()
        self.hide()
        self._on_finish()

    def _show(self) -> None:
        box = self.box
        if box is None:
            return
        self.setValue(round(1000 * box.fraction))
        self.setFormat(f"{box.stage} · {box.fraction:.0%}")
        if not self._busy() and self._poll.isActive():
            self.finish()  # the job failed: its message is in the banner and the log
