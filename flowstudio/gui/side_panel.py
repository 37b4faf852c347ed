"""The workspace's side panel: the data box (what is loaded, what was skipped, Open… and
the built-in samples), the explored model (the checkpoint the analysis views query) and the
next-training box (model, preset, device and the hyperparameter form of the next Train).
The last two are separate boxes because they often differ: the window opens on a demo
PointFlow while the form keeps the model the user last chose to train."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flowstudio.gui.params_panel import ParamsPanel
from flowstudio.gui.widgets import icon
from flowstudio.workbench.data import DataInfo, Sample


def _wrapping_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def _compact_combo(parent: QWidget, name: str, tip: str) -> QComboBox:
    combo = QComboBox(parent)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    if name:
        combo.setObjectName(name)
    combo.setToolTip(tip)
    return combo


class DataBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        layout = QVBoxLayout(self)
        self.data_name = _wrapping_label("No data loaded", self)
        self.data_name.setObjectName("DataName")
        layout.addWidget(self.data_name)
        self.data_form = QFormLayout()
        self.data_form.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.data_form)
        self.skipped_label = QLabel(self)
        self.skipped_label.setObjectName("SkippedLabel")
        self.skipped_list = QListWidget(self)
        self.skipped_list.setObjectName("SkippedList")
        self.skipped_list.setMaximumHeight(90)
        self.skipped_list.setWordWrap(True)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped_list)
        self.skipped_label.hide()
        self.skipped_list.hide()
        row = QHBoxLayout()
        self.open_button = QPushButton(icon("open"), "Open…", self)
        self.open_button.setToolTip("Open a data file (Ctrl+O); you can also drop files on the window")
        self.sample_combo = _compact_combo(self, "", "Built-in sample data sets")
        self.sample_combo.setPlaceholderText("Built-in samples…")
        self.sample_combo.setMinimumContentsLength(8)
        row.addWidget(self.open_button)
        row.addWidget(self.sample_combo, 1)
        layout.addLayout(row)

    def set_samples(self, samples: list[Sample]) -> None:
        for sample in samples:
            self.sample_combo.addItem(sample.title, sample)
            self.sample_combo.setItemData(
                self.sample_combo.count() - 1, sample.description, Qt.ItemDataRole.ToolTipRole
            )

    def show_info(self, info: DataInfo) -> None:
        """The data set's name, its summary rows and the items its reader skipped."""
        self.data_name.setText(info.name)
        self.data_name.setToolTip(str(info.source or ""))
        while self.data_form.rowCount():
            self.data_form.removeRow(0)
        for label, value in info.rows:
            text = _wrapping_label(value, self)
            text.setToolTip(value)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.data_form.addRow(f"{label}:", text)
        self.skipped_list.clear()
        self.skipped_list.addItems(info.skipped)
        self.skipped_label.setText(f"Skipped {info.skipped_count} item(s):")
        self.skipped_label.setVisible(info.skipped_count > 0)
        self.skipped_list.setVisible(bool(info.skipped))


class ExploredBox(QGroupBox):
    """Which trained model the analysis views query (hidden until one is open)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Exploring", parent)
        self.setObjectName("ExploredBox")
        layout = QVBoxLayout(self)
        self.model_label = _wrapping_label("", self)
        self.model_label.setObjectName("ModelLabel")
        layout.addWidget(self.model_label)
        self.hide()

    def show_model(self, model_name: str, step: int, checkpoint: Path) -> None:
        in_run = checkpoint.parent.name == "checkpoints"  # a run folder's, else a loose file
        source = f"{checkpoint.name} of run {checkpoint.parent.parent.name}" if in_run else checkpoint.name
        self.model_label.setText(f"{model_name}, step {step:,}\n{source}")
        self.model_label.setToolTip(str(checkpoint))
        self.show()


class ModelBox(QGroupBox):
    """What the next Train trains: model, preset, device, where, and the form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Next training", parent)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.model_combo = _compact_combo(self, "ModelCombo", "The flow architecture to train")
        self.preset_combo = _compact_combo(
            self,
            "PresetCombo",
            "quick: small networks that learn on a CPU in minutes;\n"
            "full: the paper's settings, meant for a GPU",
        )
        self.device_combo = _compact_combo(
            self, "DeviceCombo", "Where to train: auto picks the GPU when there is one"
        )
        form.addRow("Model", self.model_combo)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Device", self.device_combo)
        self.where_combo = _compact_combo(
            self,
            "WhereCombo",
            "A separate process: the trainer the CLI runs, followed through its run folder; the window "
            "stays responsive and the run may go on after it closes.\n"
            "This window: a thread of the window; starts at once, ends with the window.",
        )
        self.where_combo.addItem("a separate process", "process")
        self.where_combo.addItem("this window", "window")
        self.processes = QSpinBox(self)
        self.processes.setObjectName("ProcessesSpin")
        self.processes.setRange(1, 64)
        self.processes.setToolTip(
            "Trainer processes (data-parallel under torchrun): one per GPU, or CPU processes"
        )
        self.where_combo.currentIndexChanged.connect(
            lambda _: self.processes.setEnabled(self.where_combo.currentData() == "process")
        )
        form.addRow("Train in", self.where_combo)
        form.addRow("Processes", self.processes)
        layout.addLayout(form)
        self.reset_button = QPushButton("Reset to preset", self)
        self.reset_button.setToolTip("Set every hyperparameter back to the selected preset's value")
        layout.addWidget(self.reset_button)
        hint = QLabel("Hover a name for its meaning; bold names differ from their default.", self)
        hint.setObjectName("HintLabel")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.params = ParamsPanel(self)
        layout.addWidget(self.params)


class SidePanel(QScrollArea):
    """The data box over the model box, scrolling when the form is taller than the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SideScroll")
        side = QWidget(self)
        side.setObjectName("SidePanel")
        layout = QVBoxLayout(side)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        self.data_box, self.explored_box, self.model_box = DataBox(side), ExploredBox(side), ModelBox(side)
        layout.addWidget(self.data_box)
        layout.addWidget(self.explored_box)
        layout.addWidget(self.model_box)
        layout.addStretch(1)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(side)
        self.setMinimumWidth(340)
