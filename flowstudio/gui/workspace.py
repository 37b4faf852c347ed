"""What both workspaces share: the side panel, the run bar, the live loss chart and the
views of a :class:`~flowstudio.workbench.session.RunSession`.

A workspace subclass names its data kind (a workbench adapter) and builds its own pages;
the run's state, its folder and the wording of its events live in the workbench, and the
thread that drives the engine in :mod:`.worker`. This class only connects them to widgets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QSplitter, QTabWidget, QVBoxLayout, QWidget

from flowstudio.gui.charts import LossChart
from flowstudio.gui.history_bar import HistoryBar
from flowstudio.gui.log_panel import LogPanel
from flowstudio.gui.run_bar import RunBar
from flowstudio.gui.settings import Settings, runs_dir
from flowstudio.gui.side_panel import SidePanel
from flowstudio.gui.widgets import MessageBanner
from flowstudio.gui.worker import JobRunner, RateLimiter, TrainingSession
from flowstudio.gui.workspace_runs import FolderRuns
from flowstudio.gui.workspace_training import TrainingControls
from flowstudio.workbench import engines
from flowstudio.workbench.data import DataInfo, Sample
from flowstudio.workbench.event_text import Notice
from flowstudio.workbench.kinds import DataKind
from flowstudio.workbench.session import RunSession

LIVE_SAMPLES_MS = 400
"""Live samples are redrawn at most this often."""


class Workspace(FolderRuns, TrainingControls, QWidget):
    """Base of the point-cloud and molecule workspaces."""

    kind_adapter: DataKind
    state_changed = Signal(str)  # idle, running, paused, stopping
    data_loaded = Signal(str)
    status = Signal(str)

    def __init__(self, settings: Settings, log: LogPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self.title = self.kind_adapter.kind, self.kind_adapter.title
        self.setObjectName(f"Workspace_{self.kind}")
        self.settings, self.log_panel = settings, log
        self.jobs = JobRunner(self._job_failed, self)  # model queries, one at a time
        self.io_jobs = JobRunner(self._job_failed, self)  # file reading, never queued behind a model query
        self.run = RunSession(self.kind, runs_dir)
        self.run.subscribe(self._show_state)
        self.session: TrainingSession | None = None  # the current run's thread
        self.sessions_started: list[TrainingSession] = []
        self.folder_sessions = []  # runs followed through their folders (child processes included)
        self._run_to_keep: Path | None = None  # a reopened run whose data is being read
        self.data: DataInfo | None = None
        self.model: Any = None  # the trained model the analysis views query
        self.other_runs: Callable[[], list[str]] = list  # the window names the other workspaces training
        self._clash_warned_at = -1e9
        self._build()
        self._samples_limiter = RateLimiter(LIVE_SAMPLES_MS, self.show_live_samples, self)
        self._show_state(self.run.state)

    # ------------------------------------------------------------------ hooks (subclasses)
    def build_views(self, tabs: QTabWidget) -> None:
        raise NotImplementedError

    def show_data(self, info: DataInfo) -> None:
        raise NotImplementedError

    def show_live_samples(self, event: Any) -> None:
        raise NotImplementedError

    def model_ready(self) -> None:
        """The analysis views may now query :attr:`model`."""

    def export_samples(self, path: Path, chosen_filter: str = "") -> Path:
        raise NotImplementedError

    def export_provenance(self) -> Any:
        """Where the samples shown came from (a ``Provenance``), or ``None``."""
        return None

    def persisted_sliders(self) -> dict[str, Any]:
        """The sliders (``LabeledSlider``) whose values the settings keep, by key."""
        return {}

    # ------------------------------------------------------------------ the run, as the views see it
    @property
    def state(self) -> str:
        """``idle``, ``running``, ``paused`` or ``stopping`` (what the run controls show)."""
        return self.run.state.activity

    @property
    def training(self) -> bool:
        """A run's thread is alive (the run's state moves on only once its end is handled)."""
        return self.session is not None and self.session.running

    @property
    def run_dir(self) -> Path | None:
        return self.run.run_dir

    @property
    def last_progress(self) -> Any:
        return self.run.last_progress

    @property
    def samples_received(self) -> int:
        return self.run.samples_received

    def _best_checkpoint(self) -> Path | None:
        return self.run.best_checkpoint()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.banner = MessageBanner(self)
        scroll = SidePanel(self)
        self.data_box, self.model_box = scroll.data_box, scroll.model_box
        self.explored_box = scroll.explored_box
        # the widgets the window, the tests and the screenshot script reach by name
        box = self.data_box
        self.data_name, self.skipped_list = box.data_name, box.skipped_list
        self.open_button, self.sample_combo = box.open_button, box.sample_combo
        box = self.model_box
        self.model_combo, self.preset_combo = box.model_combo, box.preset_combo
        self.device_combo, self.params = box.device_combo, box.params
        self.model_label = self.explored_box.model_label
        box.reset_button.clicked.connect(self._apply_preset)
        self._objective: str | None = None
        self.params.changed.connect(self._objective_changed)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(6)
        self.run_bar = RunBar(right)
        bar = self.run_bar
        self.train_button, self.pause_button = bar.train_button, bar.pause_button
        self.resume_button, self.stop_button = bar.resume_button, bar.stop_button
        self.continue_box, self.progress = bar.continue_box, bar.progress
        for button, slot in (
            (bar.train_button, self.start_training),
            (bar.pause_button, self.pause_training),
            (bar.resume_button, self.resume_training),
            (bar.stop_button, self.stop_training),
        ):
            button.clicked.connect(slot)
        right_layout.addWidget(bar)
        self.tabs = QTabWidget(right)
        self.tabs.setObjectName("ViewTabs")
        self.tabs.setDocumentMode(True)
        self.chart = LossChart(self)
        self.history_bar = HistoryBar(self)  # the subclasses put it under their live samples
        self.history_bar.picked.connect(self._show_history)
        self.build_views(self.tabs)
        right_layout.addWidget(self.tabs, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([350, 1000])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

    # ------------------------------------------------------------------ set-up
    def populate(self) -> None:
        """Fill the combos from the engine (after construction, so subclasses are ready).

        A missing engine piece becomes a message, so the other workspace stays usable."""
        try:
            samples = self.kind_adapter.samples()
        except ImportError as exc:
            samples = []
            self.log(f"{self.title}: no built-in samples ({exc})", "warning")
        self.data_box.set_samples(samples)
        self.sample_combo.activated.connect(lambda i: self.load_sample(self.sample_combo.itemData(i)))
        self.device_combo.clear()
        for value, label in engines.device_choices():
            self.device_combo.addItem(label, value)
        try:
            self.model_combo.addItems(self.kind_adapter.models())
            self.preset_combo.addItems(self.kind_adapter.presets())
        except ImportError as exc:
            self.error(f"The {self.title.lower()} models are not available in this install: {exc}")
            self.train_button.setEnabled(False)
            return
        self._restore_choice(self.model_combo, "model")
        self._restore_choice(self.preset_combo, "preset")
        self._restore_choice(self.device_combo, "device", by_data=True)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.preset_combo.currentIndexChanged.connect(self._apply_preset)
        self.device_combo.currentIndexChanged.connect(
            lambda _: self.settings.set_value(f"{self.kind}/device", self.device_combo.currentData())
        )
        self._model_changed()
        self._restore_view_state()

    def _restore_view_state(self) -> None:
        """The sliders, the view tab and the explored model of the last session come back."""
        for key, slider in self.persisted_sliders().items():
            saved = self.settings.value(f"{self.kind}/{key}")
            if saved:
                slider.set_value(float(saved))
            slider.released.connect(
                lambda value, k=key: self.settings.set_value(f"{self.kind}/{k}", f"{value:g}")
            )
        tab = self.settings.value(f"{self.kind}/view_tab")
        self.restored_tab = int(tab) if tab.isdigit() and int(tab) < self.tabs.count() else None
        self.tabs.currentChanged.connect(lambda i: self.settings.set_value(f"{self.kind}/view_tab", str(i)))
        explored = self.settings.value(f"{self.kind}/explored_model")
        demo = self.kind_adapter.demo_checkpoint()
        if explored and Path(explored).is_file():
            self.open_model(explored, announce=False)
        elif demo is not None and self.open_demo_on_start:  # a trained model to explore at once
            self.log(f"{self.title}: opening the pretrained demo model ({demo.parent.parent.name})")
            self.open_model(demo, announce=False)

    @property
    def open_demo_on_start(self) -> bool:
        """A first start opens the kind's pretrained demo model (samples/models/), if present,
        unless ``FLOWSTUDIO_DEMO=0`` (the tests start from an empty window)."""
        return os.environ.get("FLOWSTUDIO_DEMO", "1") != "0"

    def show_first_tab(self) -> None:
        """After data loads: the tab of the last session once, else the data preview."""
        tab, self.restored_tab = getattr(self, "restored_tab", None), None
        if tab is not None:
            self.tabs.setCurrentIndex(tab)
        elif not self.training:
            self.tabs.setCurrentWidget(self.preview)

    def _restore_choice(self, combo: QComboBox, key: str, by_data: bool = False) -> None:
        wanted = self.settings.value(f"{self.kind}/{key}")
        index = combo.findData(wanted) if by_data else combo.findText(wanted)
        if wanted and index >= 0:
            combo.setCurrentIndex(index)

    def _model_changed(self, *_: Any) -> None:
        self._forget_run()
        model = self.model_combo.currentText()
        self.settings.set_value(f"{self.kind}/model", model)
        params = [p for p in self.kind_adapter.params_for(model) if p.name not in engines.ENGINE_PARAMS]
        self.params.set_params(
            params, self.kind_adapter.preset_values(model, self.preset_combo.currentText())
        )

    def _objective_changed(self) -> None:
        """The user's choice of objective brings that objective's recipe along (PointFlow's
        likelihood recipe, the single-shape CNF's steps), as ``--set objective=...`` does on
        the CLI. A form filled by code (a preset, a run's settings) is left as it is."""
        editor = self.params.editors.get("objective")
        objective = editor.raw() if editor is not None else None
        previous, self._objective = self._objective, objective
        if self.params.filling or objective is None or objective == previous:
            return
        model, preset = self.model_combo.currentText(), self.preset_combo.currentText()
        changes = self.kind_adapter.objective_values(model, preset, objective)
        if changes:
            self.params.set_values(changes)

    def _apply_preset(self, *_: Any) -> None:
        preset = self.preset_combo.currentText()
        self.settings.set_value(f"{self.kind}/preset", preset)
        self.params.set_values(self.kind_adapter.preset_values(self.model_combo.currentText(), preset))

    def open_filters(self) -> list[str]:
        return self.kind_adapter.open_filters()

    def save_filters(self) -> list[str]:
        return self.kind_adapter.save_filters()

    # ------------------------------------------------------------------ data
    def load_sample(self, sample: Sample | None) -> None:
        if sample is not None:
            self.load_path(sample.path, title=sample.title, remember=False)

    def load_path(self, path: str | Path, title: str | None = None, remember: bool = True) -> None:
        """Read ``path`` off the GUI thread; the data panel and preview update when done."""
        path = Path(path)
        self.status.emit(f"Reading {path.name}…")
        self.data_name.setText(f"Reading {path.name}…")

        def done(info: DataInfo) -> None:
            if title:
                info.name = title
            self.set_data(info)
            if remember:
                self.settings.add_recent_file(path)
                self.settings.remember_folder("data", path)
            self.data_loaded.emit(str(path))

        self.io_jobs.submit("data", lambda: self.kind_adapter.read_data(path), done)

    def set_data(self, info: DataInfo) -> None:
        self.data = info
        self._forget_run()
        self.data_box.show_info(info)
        self.log(
            f"{self.title}: loaded {info.name} ({'; '.join(f'{k.lower()} {v}' for k, v in info.rows[:2])})"
        )
        if info.skipped_count:
            self.log(
                f"{info.skipped_count} item(s) skipped in {info.name}; first: "
                f"{info.skipped[0] if info.skipped else '?'}",
                "warning",
            )
        self.show_data(info)
        self.status.emit(f"Loaded {info.name}")

    # ------------------------------------------------------------------ messages
    def log(self, text: str, level: str = "info") -> None:
        self.log_panel.log(text, level)

    def error(self, text: str) -> None:
        """An error: a banner in the window and a line in the log, never a crash."""
        self.log(text, "error")
        self.banner.show_message(text, "error")

    def notify(self, text: str, seconds: float = 6.0) -> None:
        self.log(text)
        self.banner.show_message(text, "info", seconds)

    def tell(self, notices: list[Notice]) -> None:
        """Put the workbench's notices in the log and the banner."""
        for notice in notices:
            if notice.log is not None:
                self.log(notice.log, notice.level)
            if notice.banner is not None:
                self.banner.show_message(notice.banner, notice.banner_level, notice.banner_seconds)

    def _job_failed(self, key: str, message: str) -> None:
        if key == "data":
            self.data_name.setText(self.data.name if self.data else "No data loaded")
        if key == "model":
            message = f"Cannot open the checkpoint: {message}"
        self.error(message)

    # ------------------------------------------------------------------ checkpoints
    def open_model(self, path: str | Path, announce: bool = True) -> None:
        """Load a checkpoint's model for the analysis views (off the GUI thread)."""
        path = Path(path)

        def ready(model: Any) -> None:
            self.model = model
            self.run.latest_checkpoint = path
            self.explored_box.show_model(model.model_name, model.step, path)
            if announce:
                self.notify(f"Opened checkpoint {path.name}: {model.model_name} at step {model.step}.")
            self.settings.set_value(f"{self.kind}/explored_model", str(path))
            self.show_placeholders()
            self.model_ready()

        self.jobs.submit("model", lambda: self.kind_adapter.load_model(path), ready)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout_ms: int = 20_000) -> bool:
        ok = self.wait_for_training(timeout_ms)
        ok = self.io_jobs.wait(timeout_ms) and ok
        return self.jobs.wait(timeout_ms) and ok
