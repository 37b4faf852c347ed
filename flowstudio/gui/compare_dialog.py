"""Compare runs: tick two or more runs of one kind from the runs panel's list and see
their loss curves overlaid (one term at a time), their numbers side by side and their
settings, the ones that differ highlighted (:mod:`flowstudio.workbench.compare`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowstudio.errors import BadInputError
from flowstudio.gui.charts import LossChart
from flowstudio.workbench.compare import Comparison, compare
from flowstudio.workbench.runs import RunSummary

DIFFERS = QColor("#3b2e05")


class CompareDialog(QDialog):
    """Non-modal: the window stays usable while it is open."""

    def __init__(self, runs: list[RunSummary], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self.setObjectName("CompareDialog")
        self.resize(1100, 700)
        self.comparison: Comparison | None = None
        self.picker = QListWidget(self)
        for run in runs:
            item = QListWidgetItem(f"{run.path.name}  ({run.kind}, {run.model}, {run.steps:,} steps)")
            item.setData(Qt.ItemDataRole.UserRole, run.path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.picker.addItem(item)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.clicked.connect(self.refresh)
        self.term = QComboBox(self)
        self.term.setToolTip("The loss term whose curves are overlaid")
        self.term.currentTextChanged.connect(lambda _: self._draw_curves())
        self.message = QLabel("Tick two or more runs of one kind, then Compare.", self)
        self.chart = LossChart(self)
        self.chart.placeholder = "The runs' curves appear here, overlaid."
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.picker, 1)
        column.addWidget(self.compare_button)
        right = QSplitter(Qt.Orientation.Vertical, self)
        curves = QWidget(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Curve"))
        row.addWidget(self.term)
        row.addWidget(self.message, 1)
        box = QVBoxLayout(curves)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(row)
        box.addWidget(self.chart, 1)
        right.addWidget(curves)
        right.addWidget(self.table)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([300, 800])
        QVBoxLayout(self).addWidget(split)

    def check(self, paths: list) -> None:
        """Tick the runs at ``paths`` (for tests and for a selection carried over)."""
        for i in range(self.picker.count()):
            item = self.picker.item(i)
            ticked = item.data(Qt.ItemDataRole.UserRole) in paths
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def refresh(self) -> None:
        paths = [
            self.picker.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.picker.count())
            if self.picker.item(i).checkState() == Qt.CheckState.Checked
        ]
        try:
            self.comparison = compare(paths)
        except BadInputError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"{len(paths)} runs")
        self.term.blockSignals(True)
        self.term.clear()
        self.term.addItems(list(self.comparison.curves))
        self.term.blockSignals(False)
        self._draw_curves()
        self._fill_table()

    def _draw_curves(self) -> None:
        comparison, term = self.comparison, self.term.currentText()
        self.chart.clear()
        if comparison is None or term not in comparison.curves:
            return
        for name, (steps, values) in zip(comparison.names, comparison.curves[term], strict=True):
            for step, value in zip(steps, values, strict=True):
                self.chart.add(int(step), {name: value})

    def _fill_table(self) -> None:
        comparison = self.comparison
        assert comparison is not None
        rows = [(name, values, False) for name, values in comparison.numbers] + comparison.settings
        self.table.setColumnCount(1 + len(comparison.names))
        self.table.setHorizontalHeaderLabels(["", *comparison.names])
        self.table.setRowCount(len(rows))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, (name, values, differs) in enumerate(rows):
            for c, text in enumerate([name, *values]):
                item = QTableWidgetItem(text)
                if differs:
                    item.setBackground(DIFFERS)
                    item.setFont(bold)
                    item.setToolTip("differs between the runs")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
