"""A run the window follows through its folder: a trainer child process it launched, or a
run that trains elsewhere (another process, a folder synced from a GPU server).

:class:`FolderRunSession` offers what :class:`~flowstudio.gui.worker.TrainingSession` offers
(the ``event``, ``failed`` and ``ended`` signals; pause, resume, stop, wait), so a workspace
draws both alike. A :class:`QTimer` polls the workbench's
:class:`~flowstudio.workbench.follow.RunFollower` every :data:`POLL_MS` on the GUI thread:
a poll is a few ``stat`` calls, plus the new lines of the log and a replaced snapshot, so
it cannot stall the window the way a training thread sharing its GIL could. Pause, resume
and stop go through the run folder's control file; the child is its own session
(``start_new_session``) with its output in ``RUN/train.log``, so it keeps training if the
window closes and the user chose to leave it running (:meth:`FolderRunSession.detach`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from flowstudio.workbench import launch
from flowstudio.workbench.follow import RunFollower

POLL_MS = 250
"""How often the run folder is looked at."""

LOCK_CHECK_S = 2.0
"""How often a followed run (not our child) is asked whether its trainer still holds the lock."""


class FolderRunSession(QObject):
    """Follows ``run_dir``; with ``argv``, first launches the trainer that writes it."""

    event = Signal(object)
    failed = Signal(str)
    ended = Signal()
    rewound = Signal()  # the log was rewritten shorter (a resume): redraw it from the start

    def __init__(
        self,
        run_dir: Path,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        parent: QObject | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.run_dir, self.argv, self.env = Path(run_dir), argv, env
        self.follower = RunFollower(run_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.finished_event: Any = None
        self.detached = False
        self._ended = False
        self._paused = False
        self._clock = clock
        self._lock_checked = clock()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    @property
    def launched(self) -> bool:
        """A child process of this window trains the run (else it is only followed)."""
        return self.argv is not None

    def start(self) -> None:
        if self.argv is not None:
            self.process = launch.start_child(self.run_dir, self.argv, self.env)
        self.timer.start()

    # ------------------------------------------------------------------ following
    def poll(self) -> None:
        """Relay what changed in the folder; end when the trainer is gone."""
        if self._ended:
            return
        self._relay()
        if self.process is not None:
            code = self.process.poll()
            if code is not None:
                self._relay()  # what it wrote last
                if self.finished_event is None:
                    self.failed.emit(launch.exit_text(self.run_dir, code))
                self._end()
        elif self.finished_event is not None:
            self._end()
        elif self._clock() - self._lock_checked >= LOCK_CHECK_S:
            self._lock_checked = self._clock()
            if launch.trainer_gone(self.run_dir):
                self._relay()
                if self.finished_event is None:
                    self.failed.emit(f"the trainer of {self.run_dir} ended without finishing its log")
                self._end()

    def _relay(self) -> None:
        events = self.follower.poll()
        if self.follower.rewound:
            self.rewound.emit()
        for event in events:
            if event is self.follower.finished:
                self.finished_event = event
            self.event.emit(event)

    def _end(self) -> None:
        self._ended = True
        self.timer.stop()
        self.ended.emit()

    # ------------------------------------------------------------------ what TrainingSession offers
    @property
    def running(self) -> bool:
        return not self._ended

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        launch.send(self.run_dir, "pause")
        self._paused = True

    def resume(self) -> None:
        launch.send(self.run_dir, "resume")
        self._paused = False

    def stop(self) -> None:
        launch.send(self.run_dir, "stop")
        self._paused = False

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Stop a child and block until it ended (``True`` when it did); a run that is only
        followed, or a detached child, is left alone."""
        if self.process is None or self.detached:
            if not self._ended:
                self._end()
            return True
        if self.process.poll() is None:
            self.stop()
            try:
                self.process.wait(timeout_ms / 1000)
            except subprocess.TimeoutExpired:
                return False
        self.poll()
        return True

    def detach(self) -> None:
        """Leave the child training (the window closes): stop following it."""
        self.detached = True
        if not self._ended:
            self._ended = True
            self.timer.stop()
