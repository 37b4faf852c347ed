"""What both workspaces share: the data panel, the model form, the run controls, the live
loss chart and the life cycle of a training run.

A workspace subclass supplies its engine through a handful of hooks (data sets, models,
tasks, checkpoint loading) and its own views; everything about threads, buttons, progress
and messages lives here once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from flowstudio.errors import BadInputError
from flowstudio.gui import backend
from flowstudio.gui.backend import DataInfo, Sample
from flowstudio.gui.charts import LossChart
from flowstudio.gui.log_panel import LogPanel
from flowstudio.gui.params_panel import ParamsPanel
from flowstudio.gui.settings import Settings, runs_dir
from flowstudio.gui.widgets import MessageBanner, icon
from flowstudio.gui.worker import JobRunner, RateLimiter, TrainingSession
from flowstudio.params import Param

if TYPE_CHECKING:  # the training package imports torch: the window loads it after it shows
    from flowstudio.training.events import Finished, Progress, Samples


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


def format_rate(steps_per_s: float) -> str:
    """Steps per second, or seconds per step when a step takes longer than a second."""
    if steps_per_s >= 1 or steps_per_s <= 0:
        return f"{steps_per_s:.1f} it/s"
    return f"{1 / steps_per_s:.1f} s/it"


class Workspace(QWidget):
    """Base of the point-cloud and molecule workspaces."""

    kind = ""
    title = ""
    state_changed = Signal(str)  # idle, running, paused, stopping
    data_loaded = Signal(str)
    status = Signal(str)

    def __init__(self, settings: Settings, log: LogPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"Workspace_{self.kind}")
        self.settings, self.log_panel = settings, log
        self.jobs = JobRunner(self._job_failed, self)  # model queries, one at a time
        self.io_jobs = JobRunner(self._job_failed, self)  # file reading, never queued behind a model query
        self.session: TrainingSession | None = None
        self.sessions_started: list[TrainingSession] = []
        self.data: DataInfo | None = None
        self.run_dir: Path | None = None
        self.latest_checkpoint: Path | None = None
        self.model: Any = None  # the trained model the analysis views query
        self.samples_received = 0
        self.last_progress: Progress | None = None
        self._build()
        self._samples_limiter = RateLimiter(400, self._draw_live_samples, self)
        self._set_state("idle")

    # ------------------------------------------------------------------ hooks (subclasses)
    def samples(self) -> list[Sample]:
        raise NotImplementedError

    def read_data(self, path: Path) -> DataInfo:
        """Read ``path`` (called on a worker thread)."""
        raise NotImplementedError

    def open_filters(self) -> list[str]:
        raise NotImplementedError

    def models(self) -> list[str]:
        raise NotImplementedError

    def presets(self) -> list[str]:
        raise NotImplementedError

    def params_for(self, model: str) -> list[Param]:
        raise NotImplementedError

    def preset_values(self, model: str, preset: str) -> dict[str, Any]:
        raise NotImplementedError

    def task_factory(self, data: DataInfo, model: str, preset: str, values: dict[str, Any]):
        """A zero-argument callable building the engine's task (run on the worker thread)."""
        raise NotImplementedError

    def load_model(self, checkpoint: Path) -> Any:
        """The trained model for the analysis views (run on a worker thread)."""
        raise NotImplementedError

    def build_views(self, tabs: QTabWidget) -> None:
        raise NotImplementedError

    def show_data(self, info: DataInfo) -> None:
        raise NotImplementedError

    def show_live_samples(self, event: Samples) -> None:
        raise NotImplementedError

    def model_ready(self) -> None:
        """The analysis views may now query :attr:`model`."""

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.banner = MessageBanner(self)
        side = QWidget(self)
        side.setObjectName("SidePanel")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(8, 8, 8, 8)
        side_layout.setSpacing(10)
        side_layout.addWidget(self._build_data_box(side))
        side_layout.addWidget(self._build_model_box(side))
        side_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setObjectName("SideScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(side)
        scroll.setMinimumWidth(340)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(6)
        right_layout.addWidget(self._build_run_bar(right))
        self.tabs = QTabWidget(right)
        self.tabs.setObjectName("ViewTabs")
        self.tabs.setDocumentMode(True)
        self.chart = LossChart(self)
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

    def _build_data_box(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Data", parent)
        layout = QVBoxLayout(box)
        self.data_name = QLabel("No data loaded", box)
        self.data_name.setObjectName("DataName")
        self.data_name.setWordWrap(True)
        self.data_name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.data_name)
        self.data_form = QFormLayout()
        self.data_form.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.data_form)
        self.skipped_label = QLabel(box)
        self.skipped_label.setObjectName("SkippedLabel")
        self.skipped_list = QListWidget(box)
        self.skipped_list.setObjectName("SkippedList")
        self.skipped_list.setMaximumHeight(90)
        self.skipped_list.setWordWrap(True)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped_list)
        self.skipped_label.hide()
        self.skipped_list.hide()
        row = QHBoxLayout()
        self.open_button = QPushButton(icon("open"), "Open…", box)
        self.open_button.setToolTip("Open a data file (Ctrl+O); you can also drop files on the window")
        self.sample_combo = QComboBox(box)
        self.sample_combo.setToolTip("Built-in sample data sets")
        self.sample_combo.setPlaceholderText("Built-in samples…")
        self.sample_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.sample_combo.setMinimumContentsLength(8)
        row.addWidget(self.open_button)
        row.addWidget(self.sample_combo, 1)
        layout.addLayout(row)
        return box

    def _build_model_box(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Model", parent)
        layout = QVBoxLayout(box)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.model_combo = QComboBox(box)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setObjectName("ModelCombo")
        self.model_combo.setToolTip("The flow architecture to train")
        self.preset_combo = QComboBox(box)
        self.preset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.preset_combo.setObjectName("PresetCombo")
        self.preset_combo.setToolTip(
            "quick: small networks that learn on a CPU in minutes;\n"
            "full: the paper's settings, meant for a GPU"
        )
        self.device_combo = QComboBox(box)
        self.device_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device_combo.setObjectName("DeviceCombo")
        self.device_combo.setToolTip("Where to train: auto picks the GPU when there is one")
        form.addRow("Model", self.model_combo)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Device", self.device_combo)
        layout.addLayout(form)
        reset = QPushButton("Reset to preset", box)
        reset.setToolTip("Set every hyperparameter back to the selected preset's value")
        reset.clicked.connect(self._apply_preset)
        layout.addWidget(reset)
        self.model_label = QLabel(box)
        self.model_label.setObjectName("ModelLabel")
        self.model_label.setWordWrap(True)
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.model_label.hide()
        layout.addWidget(self.model_label)
        hint = QLabel("Hover a name for its meaning; bold names differ from their default.", box)
        hint.setObjectName("HintLabel")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.params = ParamsPanel(box)
        layout.addWidget(self.params)
        return box

    def _build_run_bar(self, parent: QWidget) -> QWidget:
        bar = QWidget(parent)
        bar.setObjectName("RunBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(bar)
        layout.setContentsMargins(8, 6, 8, 6)
        self.train_button = QPushButton(icon("play", "#ffffff"), "Train", bar)
        self.train_button.setObjectName("TrainButton")
        self.train_button.setToolTip("Start training on the loaded data (F5)")
        self.pause_button = QPushButton(icon("pause"), "Pause", bar)
        self.pause_button.setToolTip("Pause after the current step (F6)")
        self.resume_button = QPushButton(icon("resume"), "Resume", bar)
        self.resume_button.setToolTip("Continue a paused run (F6)")
        self.stop_button = QPushButton(icon("stop"), "Stop", bar)
        self.stop_button.setObjectName("StopButton")
        self.stop_button.setToolTip("End the run after the current step and keep a checkpoint (F7)")
        self.progress = QProgressBar(bar)
        self.progress.setObjectName("RunProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(180)
        self.continue_box = QCheckBox("Continue last run", bar)
        self.continue_box.setToolTip(
            "Train on from the last run's latest checkpoint (same model and settings; the step budget "
            "counts the whole run) instead of starting a new run"
        )
        self.continue_box.setChecked(True)
        self.continue_box.hide()
        self.eta_label = QLabel("", bar)
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
        self.train_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.pause_training)
        self.resume_button.clicked.connect(self.resume_training)
        self.stop_button.clicked.connect(self.stop_training)
        return bar

    # ------------------------------------------------------------------ set-up
    def populate(self) -> None:
        """Fill the combos from the engine (after construction, so subclasses are ready).

        A missing engine piece becomes a message, so the other workspace stays usable."""
        try:
            samples = self.samples()
        except ImportError as exc:
            samples = []
            self.log(f"{self.title}: no built-in samples ({exc})", "warning")
        for sample in samples:
            self.sample_combo.addItem(sample.title, sample)
            self.sample_combo.setItemData(
                self.sample_combo.count() - 1, sample.description, Qt.ItemDataRole.ToolTipRole
            )
        self.sample_combo.activated.connect(lambda i: self.load_sample(self.sample_combo.itemData(i)))
        self.device_combo.clear()
        for value, label in backend.device_choices():
            self.device_combo.addItem(label, value)
        try:
            self.model_combo.addItems(self.models())
            self.preset_combo.addItems(self.presets())
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

    def _restore_choice(self, combo: QComboBox, key: str, by_data: bool = False) -> None:
        wanted = self.settings.value(f"{self.kind}/{key}")
        index = combo.findData(wanted) if by_data else combo.findText(wanted)
        if wanted and index >= 0:
            combo.setCurrentIndex(index)

    def _model_changed(self, *_: Any) -> None:
        self._forget_run()
        model = self.model_combo.currentText()
        self.settings.set_value(f"{self.kind}/model", model)
        params = [p for p in self.params_for(model) if p.name not in backend.ENGINE_PARAMS]
        self.params.set_params(params, self.preset_values(model, self.preset_combo.currentText()))

    def _apply_preset(self, *_: Any) -> None:
        preset = self.preset_combo.currentText()
        self.settings.set_value(f"{self.kind}/preset", preset)
        self.params.set_values(self.preset_values(self.model_combo.currentText(), preset))

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

        self.io_jobs.submit("data", lambda: self.read_data(path), done)

    def set_data(self, info: DataInfo) -> None:
        self.data = info
        self._forget_run()
        self.data_name.setText(info.name)
        self.data_name.setToolTip(str(info.source or ""))
        while self.data_form.rowCount():
            self.data_form.removeRow(0)
        for label, value in info.rows:
            text = QLabel(value)
            text.setWordWrap(True)
            text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            text.setToolTip(value)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.data_form.addRow(f"{label}:", text)
        self.skipped_list.clear()
        self.skipped_list.addItems(info.skipped)
        self.skipped_label.setText(f"Skipped {info.skipped_count} item(s):")
        self.skipped_label.setVisible(info.skipped_count > 0)
        self.skipped_list.setVisible(bool(info.skipped))
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

    def _job_failed(self, key: str, message: str) -> None:
        if key == "data":
            self.data_name.setText(self.data.name if self.data else "No data loaded")
        if key == "model":
            message = f"Cannot open the checkpoint: {message}"
            if f"not a {self.kind!r} one" in message:
                other = "Molecules" if self.kind == "points" else "Point clouds"
                message += f". Open it from the {other} workspace."
        self.error(message)

    # ------------------------------------------------------------------ training
    @property
    def training(self) -> bool:
        return self.session is not None and self.session.running

    def start_training(self) -> None:
        if self.training:
            return
        if self.data is None:
            self.error("Load a data set first (File > Open… or a built-in sample).")
            return
        try:
            values = self.params.values()
            model = self.model_combo.currentText()
            options = backend.training_options(values, self.device_combo.currentData() or "auto")
            options.validate()
            factory = self.task_factory(self.data, model, self.preset_combo.currentText(), values)
        except BadInputError as exc:
            self.error(f"Cannot train: {exc}")
            return
        resume = self.continue_box.isVisible() and self.continue_box.isChecked() and self._resumable()
        if resume:  # the engine counts on from the run's latest checkpoint; the chart goes on too
            options.resume = True
        else:
            self.run_dir = self._new_run_dir(model)
            self.chart.clear()
        self.banner.hide()
        self.samples_received = 0
        self.last_progress = None
        self.latest_checkpoint = None
        run_dir = self.run_dir
        session = TrainingSession(
            lambda control: backend.train_events(factory, run_dir, options, control), self
        )
        session.event.connect(self._on_event)
        session.failed.connect(self._on_failed)
        session.ended.connect(lambda: self._on_ended(session))
        self.session = session
        self.sessions_started.append(session)
        verb = "continuing" if resume else "training"
        self.log(f"{self.title}: {verb} {model} ({self.preset_combo.currentText()} preset) in {run_dir}")
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.eta_label.setText("")
        self.tabs.setCurrentWidget(self.training_tab)
        session.start()
        self._set_state("running")

    def _new_run_dir(self, model: str) -> Path:
        run_dir = runs_dir() / f"{self.kind}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = run_dir.with_name(f"{run_dir.name.split('~')[0]}~{suffix}")
        return run_dir

    def _forget_run(self) -> None:
        """New data or another model: the next Train starts a new run."""
        if not self.training:
            self.run_dir = None
            self.continue_box.hide()

    def _resumable(self) -> bool:
        return self.run_dir is not None and (self.run_dir / "checkpoints" / "latest.pt").is_file()

    def pause_training(self) -> None:
        if self.training and not self.session.paused:
            self.session.pause()
            self.log("paused")
            self._set_state("paused")

    def resume_training(self) -> None:
        if self.training and self.session.paused:
            self.session.resume()
            self.log("resumed")
            self._set_state("running")

    def stop_training(self) -> None:
        if self.training:
            self.session.stop()
            self.log("stopping after the current step…")
            self._set_state("stopping")

    def wait_for_training(self, timeout_ms: int = 30_000) -> bool:
        """Stop any run and wait for its thread; ``True`` when none is left running."""
        ok = True
        for session in self.sessions_started:
            ok = session.wait(timeout_ms) and ok
        return ok

    def _set_state(self, state: str) -> None:
        self.state = state
        running = state in ("running", "paused", "stopping")
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.continue_box.setVisible(not running and self._resumable())
        self.pause_button.setVisible(state != "paused")
        self.resume_button.setVisible(state == "paused")
        for w in (
            self.model_combo,
            self.preset_combo,
            self.device_combo,
            self.params,
            self.open_button,
            self.sample_combo,
        ):
            w.setEnabled(not running)
        if state == "paused":
            self.progress.setFormat("paused · " + self.progress.format())
        self.state_changed.emit(state)

    def _on_event(self, event: object) -> None:
        from flowstudio.training.events import Checkpointed, Finished, Message, Progress, Recovered, Samples

        if isinstance(event, Progress):
            self._on_progress(event)
        elif isinstance(event, Samples):
            self.samples_received += 1
            self._samples_limiter.submit(event)
        elif isinstance(event, Checkpointed):
            self.latest_checkpoint = event.path
            label = "best " if event.best else ""
            metric = f" (validation {event.metric:.4g})" if event.metric is not None else ""
            self.log(f"step {event.step}: {label}checkpoint {event.path.name}{metric}")
        elif isinstance(event, Recovered):
            self.log(
                f"step {event.step}: {event.reason}; rolled back, learning rate now {event.new_lr:.3g}",
                "warning",
            )
        elif isinstance(event, Message):
            self.log(event.text, event.level)
            if event.level == "error":
                self.banner.show_message(event.text.splitlines()[0], "error")
        elif isinstance(event, Finished):
            self._on_finished(event)

    def _on_progress(self, event: Progress) -> None:
        self.last_progress = event
        losses = dict(event.losses)
        nfe = {"NFE forward": event.nfe_forward, "NFE backward": event.nfe_backward}
        self.chart.add(event.step, losses, nfe)
        if event.total_steps:
            self.progress.setValue(int(1000 * event.step / event.total_steps))
            text = f"step {event.step:,} / {event.total_steps:,}"
        else:
            text = f"step {event.step:,}"
            if event.eta_s is not None:  # a time budget: progress is elapsed time
                self.progress.setValue(int(1000 * event.elapsed_s / max(1e-9, event.elapsed_s + event.eta_s)))
        if self.state == "paused":
            text = "paused · " + text
        self.progress.setFormat(text)
        loss = losses.get("loss")
        self.eta_label.setText(
            f"{format_rate(event.steps_per_s)} · elapsed {format_duration(event.elapsed_s)} · "
            f"ETA {format_duration(event.eta_s)}" + (f" · loss {loss:.4g}" if loss is not None else "")
        )

    def _draw_live_samples(self, event: Samples) -> None:
        self.show_live_samples(event)

    def _on_failed(self, text: str) -> None:
        first = text.splitlines()[0]
        self.log(text, "error")
        self.banner.show_message(f"Training failed: {first}", "error")

    def _on_finished(self, event: Finished) -> None:
        reasons = {
            "iterations": "reached its step budget",
            "minutes": "reached its time budget",
            "stopped": "was stopped",
            "error": "failed",
        }
        self.log(
            f"run {reasons.get(event.reason, event.reason)} at step {event.step} ({event.run_dir})",
            "error" if event.reason == "error" else "info",
        )
        if event.reason == "error" and event.error:
            self.banner.show_message(f"Training failed at step {event.step}: {event.error.splitlines()[0]}")
        elif event.reason != "error":
            self.notify(
                f"Training {reasons.get(event.reason, event.reason)} at step {event.step}; "
                "the model is ready to explore."
            )

    def _on_ended(self, session: TrainingSession) -> None:
        if session is not self.session:
            return
        self._set_state("idle")
        self.progress.setFormat(self.progress.format().replace("paused · ", "") + " · done")
        checkpoint = self._best_checkpoint()
        if checkpoint is not None:
            self.open_model(checkpoint, announce=False)

    def _best_checkpoint(self) -> Path | None:
        if self.run_dir is None:
            return self.latest_checkpoint
        for name in ("best.pt", "latest.pt"):
            candidate = self.run_dir / "checkpoints" / name
            if candidate.is_file():
                return candidate
        return self.latest_checkpoint

    # ------------------------------------------------------------------ checkpoints
    def open_model(self, path: str | Path, announce: bool = True) -> None:
        """Load a checkpoint's model for the analysis views (off the GUI thread)."""
        path = Path(path)

        def ready(model: Any) -> None:
            self.model = model
            self.latest_checkpoint = path
            self.model_label.setText(f"Exploring: {model.model_name}, step {model.step:,} ({path.name})")
            self.model_label.setToolTip(str(path))
            self.model_label.show()
            if announce:
                self.notify(f"Opened checkpoint {path.name}: {model.model_name} at step {model.step}.")
            self.model_ready()

        self.jobs.submit("model", lambda: self.load_model(path), ready)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout_ms: int = 20_000) -> bool:
        ok = self.wait_for_training(timeout_ms)
        ok = self.io_jobs.wait(timeout_ms) and ok
        return self.jobs.wait(timeout_ms) and ok
