"""The FlowStudio main window: two workspaces, menus, drag and drop, the log, settings.

Everything a menu does is also reachable as a method (``open_path``, ``export_samples``,
``save_screenshot``, ``open_checkpoint``, ...) so that the tests and the screenshot script
drive the same code the user does.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from flowstudio import __version__
from flowstudio.errors import BadInputError
from flowstudio.gui.image_dialog import ImageDialog
from flowstudio.gui.log_panel import LogPanel
from flowstudio.gui.menus import WindowMenus
from flowstudio.gui.settings import Settings
from flowstudio.gui.views_points import VtkView
from flowstudio.gui.widgets import icon, stamp_png
from flowstudio.gui.window_runs import WindowRuns, add_dock
from flowstudio.gui.workspace import Workspace
from flowstudio.gui.workspace_molecules import MoleculesWorkspace
from flowstudio.gui.workspace_points import PointsWorkspace
from flowstudio.workbench import engines
from flowstudio.workbench.routing import file_kind
from flowstudio.workbench.runs import is_run_folder
from flowstudio.workbench.texts import window_title

CLOSE_WAIT_S = 30.0
"""How long closing waits for a run to finish its step before stopping it the hard way (wait)."""


class MainWindow(WindowRuns, WindowMenus, QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.settings = settings or Settings()
        self.setAcceptDrops(True)
        self.log_panel = LogPanel(self)
        self.points = PointsWorkspace(self.settings, self.log_panel, self)
        self.molecules = MoleculesWorkspace(self.settings, self.log_panel, self)
        self.workspaces: list[Workspace] = [self.points, self.molecules]
        for ws in self.workspaces:
            ws.setEnabled(False)  # until populate() has filled them from the engines
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("WorkspaceTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.points, icon("points"), "Point clouds")
        self.tabs.addTab(self.molecules, icon("molecule"), "Molecules")
        self.setCentralWidget(self.tabs)
        self.log_dock = add_dock(self, "Log", "LogDock", self.log_panel)
        self._build_runs_dock()
        self.device_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.device_label)
        self.log_panel.logged.connect(self._log_to_status)
        for ws in self.workspaces:
            ws.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
            ws.state_changed.connect(lambda _: self._update_actions())
            ws.data_loaded.connect(lambda _: self._rebuild_recent_menu())
            ws.data_loaded.connect(lambda _: self._update_actions())
            ws.other_runs = lambda w=ws: [o.title for o in self.workspaces if o is not w and o.training]
        self._closing = False
        self._deadline: float | None = None
        self._shown_once = False
        self.load_samples_on_show = True  # each workspace reads its default sample when first shown
        self._build_menus()
        self._restore_geometry()
        self.tabs.currentChanged.connect(self._workspace_changed)
        self.resize_docks()
        self._update_actions()

    # ------------------------------------------------------------------ start-up
    def populate(self) -> None:
        """Fill the workspaces from the engines and load the default samples."""
        for ws in self.workspaces:
            ws.populate()
            ws.setEnabled(True)
        self.statusBar().clearMessage()
        self._populated = True
        self.reopen_at_start()
        self._load_default_sample(self.current)
        self._rebuild_samples_menu()
        self.device_label.setText(f"Device: {self.points.device_combo.currentText() or '?'}  ")
        self._update_actions()

    def _load_default_sample(self, ws: Workspace) -> None:
        """Each workspace opens on its first built-in sample, read when first shown (the
        20,000-molecule set takes seconds: no need to pay for it in the points workspace)."""
        if (
            self.load_samples_on_show
            and getattr(self, "_populated", False)
            and ws.data is None
            and not ws.io_jobs.busy
            and ws.sample_combo.count()
        ):
            ws.load_sample(ws.sample_combo.itemData(0))

    def resize_docks(self) -> None:
        self.resizeDocks([self.log_dock], [130], Qt.Orientation.Vertical)

    def _restore_geometry(self) -> None:
        geometry = self.settings.bytes_value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1480, 920)
        state = self.settings.bytes_value("window/state")
        if state is not None:
            self.restoreState(state)
        index = int(self.settings.value("window/workspace", "0") or 0)
        self.tabs.setCurrentIndex(min(max(index, 0), self.tabs.count() - 1))

    def _save_geometry(self) -> None:
        self.settings.set_bytes("window/geometry", QByteArray(self.saveGeometry()))
        self.settings.set_bytes("window/state", QByteArray(self.saveState()))
        self.settings.set_value("window/workspace", str(self.tabs.currentIndex()))

    # ------------------------------------------------------------------ helpers
    @property
    def current(self) -> Workspace:
        return self.tabs.currentWidget()

    def _workspace_changed(self, _: int) -> None:
        self.settings.set_value("window/workspace", str(self.tabs.currentIndex()))
        self._load_default_sample(self.current)
        self._update_actions()

    def _update_actions(self) -> None:
        ws = self.current
        state = getattr(ws, "state", "idle")
        self.train_action.setEnabled(state == "idle")
        self.pause_action.setEnabled(state in ("running", "paused"))
        self.stop_action.setEnabled(state in ("running", "paused"))
        running = [w.title for w in self.workspaces if w.training]
        data = ws.data.name if getattr(ws, "data", None) is not None else None
        self.setWindowTitle(window_title(ws.title, data, running))

    def _log_to_status(self, text: str, level: str) -> None:
        if level != "info":
            self.statusBar().showMessage(text.splitlines()[0], 10000)

    def toggle_pause(self) -> None:
        ws = self.current
        if ws.state == "paused":
            ws.resume_training()
        else:
            ws.pause_training()

    def error(self, text: str) -> None:
        self.current.error(text)

    # ------------------------------------------------------------------ opening
    def open_path(self, path: str | Path) -> None:
        """Open a data file, folder or checkpoint in the workspace it belongs to."""
        path = Path(path)
        if not path.exists():
            self.error(f"{path}: no such file or folder")
            return
        if is_run_folder(path):
            self.open_run(path)
            return
        kind = file_kind(path)
        if kind == "checkpoint":
            self.open_checkpoint(path)
            return
        if kind == "image":
            self.open_image(path)
            return
        ws = self.points if kind == "points" else self.molecules
        if ws.training:
            ws.error("Stop the training run before loading other data.")
            return
        self.tabs.setCurrentWidget(ws)
        ws.load_path(path)

    def open_image(self, path: Path) -> None:
        """Show an exported PNG and where it came from (its provenance chunks)."""
        try:
            self.image_dialog = ImageDialog(path, self)
        except BadInputError as exc:
            self.error(str(exc))
            return
        self.image_dialog.show()

    def _dialog_folder(self, purpose: str) -> str:
        return self.settings.last_folder(purpose)

    def open_dialog(self) -> None:
        ws = self.current
        try:
            filters = ws.open_filters() + [f for f in self._other(ws).open_filters() if "All files" not in f]
            filters.append("Screenshots with their provenance (*.png)")
        except (ImportError, AttributeError) as exc:
            self.error(f"cannot list the file formats: {exc}")
            return
        path, _ = QFileDialog.getOpenFileName(
            self, f"Open {ws.title.lower()} data", self._dialog_folder("data"), ";;".join(filters)
        )
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of shapes", self._dialog_folder("data"))
        if path:
            self.open_path(path)

    def _other(self, ws: Workspace) -> Workspace:
        return self.molecules if ws is self.points else self.points

    # ------------------------------------------------------------------ checkpoints
    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open checkpoint",
            self._dialog_folder("checkpoint"),
            "FlowStudio checkpoints (*.pt *.pth *.ckpt);;All files (*)",
        )
        if path:
            self.settings.remember_folder("checkpoint", path)
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str | Path) -> None:
        """Open a checkpoint in the current workspace; a wrong kind or a corrupt file is explained."""
        ws = self.current
        if ws.training:
            ws.error("Stop the training run before opening a checkpoint.")
            return
        ws.open_model(Path(path))

    def save_checkpoint_dialog(self) -> None:
        ws = self.current
        source = ws.model.path if ws.model is not None else ws._best_checkpoint()
        if source is None or not Path(source).is_file():
            self.error("No checkpoint yet: train a model (a checkpoint is kept when it stops) or open one.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save checkpoint as",
            str(Path(self._dialog_folder("checkpoint")) / f"{ws.kind}-model.pt"),
            "FlowStudio checkpoint (*.pt)",
        )
        if path:
            self.save_checkpoint(Path(path), Path(source))

    def save_checkpoint(self, path: Path, source: Path) -> Path:
        """Copy ``source`` to ``path`` atomically (a temporary file beside it, then a rename)."""
        try:
            path = engines.copy_checkpoint(Path(source), Path(path))
        except BadInputError as exc:
            self.error(str(exc))
            return Path(path)
        self.settings.remember_folder("checkpoint", path)
        self.current.notify(f"Saved checkpoint {path}")
        return path

    # ------------------------------------------------------------------ export
    def export_dialog(self) -> None:
        ws = self.current
        filters = ws.save_filters()
        default = Path(self._dialog_folder("export")) / (
            "samples.ply" if ws is self.points else "molecules.sdf"
        )
        path, chosen = QFileDialog.getSaveFileName(self, "Export samples", str(default), ";;".join(filters))
        if path:
            path = Path(path)
            if not path.suffix and "*." in chosen:
                path = path.with_suffix(chosen.split("*")[1].split()[0].rstrip(")"))
            self.export_samples(path, chosen)

    def export_samples(self, path: str | Path, chosen_filter: str = "") -> Path | None:
        """Export the samples shown; ``chosen_filter`` is the file dialog's filter (e.g. SDF
        with 3-D conformers rather than 2-D coordinates)."""
        ws = self.current
        try:
            written = ws.export_samples(Path(path), chosen_filter)
        except BadInputError as exc:
            ws.error(f"Export failed: {exc}")
            return None
        self.settings.remember_folder("export", path)
        ws.notify(f"Exported samples to {written}")
        return written

    def current_view(self):
        """The widget of the view tab shown in the current workspace."""
        page = self.current.tabs.currentWidget()
        views = page.findChildren(VtkView)
        visible = [v for v in views if v.isVisible()]
        if isinstance(page, VtkView):
            return page
        return visible[-1] if visible else page

    def screenshot_dialog(self) -> None:
        name = self.current.tabs.tabText(self.current.tabs.currentIndex()).lower().replace(" ", "-")
        default = Path(self._dialog_folder("screenshot")) / f"flowstudio-{self.current.kind}-{name}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", str(default), "PNG image (*.png)")
        if path:
            self.save_screenshot(Path(path).with_suffix(".png"))

    def save_screenshot(self, path: str | Path, whole_window: bool = False) -> Path:
        path = Path(path)
        if whole_window:
            self.grab().save(str(path), "PNG")
        else:
            view = self.current_view()
            if isinstance(view, VtkView):
                view.save_png(str(path))
            else:
                view.grab().save(str(path), "PNG")
        stamp_png(path, self.current.export_provenance())
        self.settings.remember_folder("screenshot", path)
        self.statusBar().showMessage(f"Saved {path}", 6000)
        return path

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        for path in paths[:2]:
            self.open_path(path)
        event.acceptProposedAction()

    # ------------------------------------------------------------------ about and close
    def about(self) -> None:
        QMessageBox.about(
            self,
            "About FlowStudio",
            (
                f"<h3>FlowStudio {__version__}</h3><p>A playground for flow-based generative models on "
                "3D point clouds (PointFlow, FFJORD CNFs with RNODE, RealNVP, Glow, MAF, NICE, planar "
                "flows) and molecules (GraphAF).</p><p>Settings live in " + str(self.settings.path) + "</p>"
            ),
        )

    def confirm_close(self) -> bool:
        if not self.ask_about_children():
            return False
        elsewhere = [w for w in self.workspaces if w.follows_only or w.child_training]
        running = [w.title for w in self.workspaces if w.training and w not in elsewhere]
        if not running:
            return True
        answer = QMessageBox.question(
            self,
            "Training is running",
            f"Training is running in {', '.join(running)}. Stop it and quit? A checkpoint is kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask when a run is going; stop it without freezing the window (the run ends after its
        current step and writes a checkpoint), then close the 3-D views before Qt's teardown."""
        if not self._closing:
            if not self.confirm_close():
                event.ignore()
                return
            self._closing = True
            self._save_geometry()
            self.release_followed()
        running = [ws for ws in self.workspaces if ws.training]
        if running and time.monotonic() < self._close_deadline():
            for ws in running:
                ws.stop_training()
                ws.session.ended.connect(self.close, Qt.ConnectionType.QueuedConnection)
            self.statusBar().showMessage(
                "Stopping training: the window closes once its checkpoint is written…"
            )
            QTimer.singleShot(1000, self, self.close)  # re-check (cancelled if the window is gone)
            event.ignore()
            return
        for ws in self.workspaces:
            if not ws.shutdown():
                self.log_panel.log(f"{ws.title}: a worker did not stop in time", "warning")
        for view in list(VtkView.open_views):
            if view.window() is self:
                view.close_view()
        event.accept()

    def _close_deadline(self) -> float:
        if self._deadline is None:
            self._deadline = time.monotonic() + CLOSE_WAIT_S
        return self._deadline

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:  # docks take their size once the window has one
            QTimer.singleShot(0, self, self.resize_docks)
            self._shown_once = True
