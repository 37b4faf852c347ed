"""The main window's part for runs on disk: the runs dock, opening a run folder in the
workspace of its kind (from the panel, File > Open, drag and drop or ``flowstudio RUN``),
reopening the last explored run at start, and what closing does to runs in other processes.
Mixed into :class:`~flowstudio.gui.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from flowstudio.errors import BadInputError
from flowstudio.gui.runs_panel import RunsPanel
from flowstudio.gui.settings import runs_dir
from flowstudio.workbench.runs import RunSummary, is_run_folder, summarize

LAST_RUN_KEY = "runs/last"


def add_dock(window: QMainWindow, title: str, name: str, widget: QWidget) -> QDockWidget:
    """A closable, movable dock of ``widget`` at the bottom of ``window``."""
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    dock.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
    )
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    return dock


class WindowRuns:
    """Mixed into the main window (a ``QMainWindow`` with ``workspaces`` and ``settings``)."""

    reopen_last_run = True  # the tests turn it off where they do not test it
    _pending_run: Path | None = None

    def _build_runs_dock(self) -> None:
        self.runs_panel = RunsPanel(self.settings, runs_dir, self)
        self.runs_panel.open_requested.connect(self.open_summary)
        dock = add_dock(self, "Runs", "RunsDock", self.runs_panel)
        self.tabifyDockWidget(self.log_dock, dock)
        self.log_dock.raise_()
        dock.visibilityChanged.connect(lambda shown: shown and self.runs_panel.refresh())
        self.runs_dock = dock

    def open_run(self, path: str | Path) -> bool:
        """Open the run folder ``path`` in the workspace of its kind; ``False`` (and a message)
        when it is not a run."""
        try:
            summary = summarize(path)
        except BadInputError as exc:
            self.error(str(exc))
            return False
        if not getattr(self, "_populated", False):  # from the shell: once the engines are loaded
            self._pending_run = summary.path
            return True
        self.open_summary(summary)
        return True

    def open_summary(self, summary: RunSummary) -> None:
        """Open a listed run; a run from elsewhere (the shell, File > Open) adds its folder
        to the panel's list."""
        if summary.path.parent not in self.runs_panel.folders():
            self.runs_panel.add_folder(summary.path.parent)
        ws = self.points if summary.kind == "points" else self.molecules
        self.tabs.setCurrentWidget(ws)
        ws.open_run(summary)

    def reopen_at_start(self) -> None:
        """The run given on the command line, else the last one explored (settings)."""
        target = self._pending_run or (Path(self.settings.value(LAST_RUN_KEY)) if self.reopen_last_run
                                       and self.settings.value(LAST_RUN_KEY) else None)
        self._pending_run = None
        if target is not None and is_run_folder(target):
            self.open_run(target)

    def ask_about_children(self) -> bool:
        """Closing while child trainers run: leave them running, stop them, or cancel (``False``)."""
        children = [ws for ws in self.workspaces if ws.child_training]
        if not children:
            return True
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        names = ", ".join(ws.title for ws in children)
        box.setText(f"A trainer process is running ({names}).")
        box.setInformativeText(
            "Leave it running in the background? Its run folder keeps growing, and the Runs panel "
            "reopens it (live) next time. Or stop it now: a checkpoint is kept."
        )
        leave = box.addButton("Leave it running", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop it", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(leave)
        box.exec()
        if box.clickedButton() is leave:
            for ws in children:
                ws.leave_running()
            return True
        return box.clickedButton() is stop

    def release_followed(self) -> None:
        """Closing: runs trained by other processes are left alone, only no longer followed."""
        for ws in self.workspaces:
            if ws.follows_only:
                ws.session.detach()
