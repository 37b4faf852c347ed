"""The main window's menus (File, Training, View, Help) and the lists they rebuild: the
built-in samples of both workspaces and the recent files. Every action calls a method of
the window, so the tests and the screenshot script drive the same code as the menus."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMessageBox

from flowstudio.gui.widgets import icon

if TYPE_CHECKING:
    from flowstudio.gui.workspace import Workspace


class WindowMenus:
    """Mixed into :class:`~flowstudio.gui.main_window.MainWindow` (a ``QMainWindow``)."""

    def _action(
        self,
        text: str,
        slot,
        shortcut: str | QKeySequence | None = None,
        tip: str = "",
        icon_name: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(
            self._action(
                "&Open…",
                self.open_dialog,
                QKeySequence.StandardKey.Open,
                "Open a point cloud, mesh, collection or molecule file",
                "open",
            )
        )
        file.addAction(
            self._action(
                "Open &folder…",
                self.open_folder_dialog,
                "Ctrl+Shift+O",
                "Open a folder of shapes as one collection",
            )
        )
        self.recent_menu = file.addMenu("Open &recent")
        self.samples_menu = file.addMenu("&Samples")
        file.addSeparator()
        file.addAction(
            self._action(
                "Open &checkpoint…",
                self.open_checkpoint_dialog,
                "Ctrl+Shift+K",
                "Load a trained model to explore it",
            )
        )
        self.save_checkpoint_action = self._action(
            "Save checkpoint &as…",
            self.save_checkpoint_dialog,
            "Ctrl+S",
            "Save the current model's checkpoint",
            "save",
        )
        file.addAction(self.save_checkpoint_action)
        file.addSeparator()
        file.addAction(
            self._action(
                "&Export samples…",
                self.export_dialog,
                "Ctrl+E",
                "Save the samples shown (points: PLY/XYZ/NPY/NPZ; molecules: SDF/SMILES/CSV)",
                "save",
            )
        )
        file.addAction(
            self._action(
                "Save &screenshot…",
                self.screenshot_dialog,
                "Ctrl+Shift+S",
                "Save the current view as a PNG image",
                "camera",
            )
        )
        file.addSeparator()
        file.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        train = bar.addMenu("&Training")
        self.train_action = self._action(
            "&Train", lambda: self.current.start_training(), "F5", "Start training", "play"
        )
        self.pause_action = self._action(
            "&Pause / Resume", self.toggle_pause, "F6", "Pause or resume", "pause"
        )
        self.stop_action = self._action(
            "&Stop",
            lambda: self.current.stop_training(),
            "F7",
            "Stop after the current step (a checkpoint is kept)",
            "stop",
        )
        for a in (self.train_action, self.pause_action, self.stop_action):
            train.addAction(a)

        view = bar.addMenu("&View")
        view.addAction(
            self._action("&Point clouds", lambda: self.tabs.setCurrentWidget(self.points), "Ctrl+1")
        )
        view.addAction(
            self._action("&Molecules", lambda: self.tabs.setCurrentWidget(self.molecules), "Ctrl+2")
        )
        view.addSeparator()
        view.addAction(self.log_dock.toggleViewAction())
        view.addAction(self.runs_dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(
            self._action("&Documentation", self.open_documentation, "F1", "Open FlowStudio's user guide")
        )
        help_menu.addAction(
            self._action("&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/", "List every shortcut")
        )
        help_menu.addSeparator()
        help_menu.addAction(self._action("&About FlowStudio", self.about))
        self._rebuild_recent_menu()

    def documentation_url(self) -> QUrl | None:
        """The user guide: the README beside the package (a source checkout or an editable
        install); ``None`` when the package was installed without it."""
        readme = Path(__file__).resolve().parents[2] / "README.md"
        return QUrl.fromLocalFile(str(readme)) if readme.is_file() else None

    def open_documentation(self) -> None:
        url = self.documentation_url()
        if url is None:
            self.error("The user guide (README.md) is not installed with this copy of FlowStudio.")
        else:
            QDesktopServices.openUrl(url)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(shortcut, what it does) of every window action that has one, in menu order."""
        rows = []
        for action in self.actions():
            key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if key:
                rows.append((key, action.text().replace("&", "").rstrip("…")))
        return rows

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{t}</td></tr>" for k, t in self.shortcuts())
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def _rebuild_samples_menu(self) -> None:
        self.samples_menu.clear()
        for ws in self.workspaces:
            section = self.samples_menu.addSection(ws.title)
            section.setEnabled(False)
            for i in range(ws.sample_combo.count()):
                sample = ws.sample_combo.itemData(i)
                action = self.samples_menu.addAction(sample.title)
                action.setToolTip(sample.description)
                action.triggered.connect(lambda *_, w=ws, s=sample: self._open_sample(w, s))

    def _open_sample(self, ws: Workspace, sample) -> None:
        self.tabs.setCurrentWidget(ws)
        ws.load_sample(sample)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda *_, p=path: self.open_path(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction(
                "Clear list", lambda: (self.settings.clear_recent_files(), self._rebuild_recent_menu())
            )
        else:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
