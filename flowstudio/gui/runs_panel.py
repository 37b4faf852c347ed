"""The runs panel: every run under the app's runs folder and the folders the user added, with
kind, model, data, steps, best validation, status and age; clicking one opens it.

The table draws :func:`flowstudio.workbench.runs.scan`'s rows; the scan reads each run's
config and metrics log, so it runs on a job thread, when the panel is shown, when asked
(*Refresh*), and every :data:`REFRESH_MS` while the panel is visible (statuses and ages move).
The folders added are kept in the settings (``runs/folders``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowstudio.gui.settings import Settings
from flowstudio.gui.worker import JobRunner
from flowstudio.workbench.kinds import TITLES
from flowstudio.workbench.runs import RunSummary, scan

REFRESH_MS = 5000
COLUMNS = ("Run", "Kind", "Model", "Data", "Steps", "Best validation", "Status", "Age")
FOLDERS_KEY = "runs/folders"


class RunsPanel(QWidget):
    """A table of runs; ``open_requested(RunSummary)`` when the user picks one."""

    open_requested = Signal(object)

    def __init__(
        self, settings: Settings, runs_root: Callable[[], Path], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("RunsPanel")
        self.settings, self._runs_root = settings, runs_root
        self.rows: list[RunSummary] = []
        self.jobs = JobRunner(lambda _, text: self.table.setToolTip(f"Could not list the runs: {text}"), self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("RunsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(lambda row, _: self._open(row))
        self.table.activated.connect(lambda index: self._open(index.row()))
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.add_button = QPushButton("Add folder…", self)
        self.add_button.setToolTip("List the runs of another folder too (a server's runs synced here, say)")
        self.add_button.clicked.connect(self._add_dialog)
        self.compare_button = QPushButton("Compare…", self)
        self.compare_button.setToolTip("Overlay two or more runs' curves; their settings side by side")
        self.compare_button.clicked.connect(self.compare_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.isVisible() and self.refresh())
        self.timer.start()

    # ------------------------------------------------------------------ folders
    def folders(self) -> list[Path]:
        """The app's runs folder, then the folders the user added."""
        added = [Path(p) for p in self.settings.value(FOLDERS_KEY).split("\n") if p]
        return [self._runs_root(), *added]

    def add_folder(self, folder: str | Path) -> None:
        folder = Path(folder)
        if folder not in self.folders():
            kept = [str(p) for p in self.folders()[1:]] + [str(folder)]
            self.settings.set_value(FOLDERS_KEY, "\n".join(kept))
        self.refresh()

    def _add_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of runs", str(self._runs_root()))
        if folder:
            self.add_folder(folder)

    # ------------------------------------------------------------------ the table
    def refresh(self) -> None:
        """List the runs again (on a job thread)."""
        folders = self.folders()
        self.jobs.submit("scan", lambda: scan(folders), self.show_rows)

    def show_rows(self, rows: list[RunSummary]) -> None:
        selected = self.selected_path()
        self.rows = rows
        self.table.setRowCount(len(rows))
        now = time.time()
        for i, row in enumerate(rows):
            best = f"{row.best_validation:.4g}" if row.best_validation is not None else "–"
            cells = (row.path.name, TITLES.get(row.kind, row.kind), row.model, row.data, f"{row.steps:,}",
                     best, row.status, row.age_text(now))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row.error or str(row.path))
                if j in (4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
            if row.path == selected:
                self.table.selectRow(i)

    def compare_dialog(self) -> QWidget:
        """Open (non-modal) the comparison of the listed runs, the selected one ticked."""
        from flowstudio.gui.compare_dialog import CompareDialog

        dialog = CompareDialog(self.rows, self)
        dialog.check([self.selected_path()])
        dialog.show()
        return dialog

    def selected_path(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()].path if rows and rows[0].row() < len(self.rows) else None

    def _open(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_requested.emit(self.rows[row])
