"""What both Scores pages share: a score to rank by, Score and Check invertibility buttons,
the ranked table with the set's outliers in red beside a view of the selected item, and a
caption that carries the likelihood warning, the ranking's summary or the diagnostics."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from flowstudio.gui.pages.base import AnalysisPage

OUTLIER_COLOR = "#8b2b2b"


class RankingPage(AnalysisPage):
    """A ranking of the loaded data by a likelihood score. Subclasses set the class
    attributes, build their view, and say what a row shows (:meth:`cells`) and what
    selecting one does (:meth:`show_item`); ``result`` has ``score``, ``order``,
    ``outliers``, ``caption`` and ``by(score)``."""

    labels: ClassVar[dict[str, str]] = {}  # score key: its label
    default_score = ""
    warning = ""
    headers: tuple[str, ...] = ()
    check_tip = ""

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.score = QComboBox(self)
        for key, label in self.labels.items():
            self.score.addItem(label, key)
        self.score.setCurrentIndex(list(self.labels).index(self.default_score))
        self.score.setToolTip("Higher is more like the training data for every score")
        self.button = QPushButton("Score", self)
        self.check_button = QPushButton("Check invertibility", self)
        self.check_button.setToolTip(self.check_tip)
        self.table = QTableWidget(0, len(self.headers), self)
        self.table.setHorizontalHeaderLabels(list(self.headers))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.caption = QLabel(self.warning, self)
        self.caption.setObjectName("SummaryLabel")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result: Any = None
        self.diagnostics: dict | None = None
        self.button.clicked.connect(self.refresh)
        self.check_button.clicked.connect(self.check)
        self.score.currentIndexChanged.connect(lambda _: self._rerank())
        self.table.itemSelectionChanged.connect(self._selection_changed)

    def beside_table(self, view: QWidget, sizes: tuple[int, int]) -> QSplitter:
        """The table on the left, ``view`` on the right."""
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(view)
        split.setSizes(list(sizes))
        return split

    def stale(self) -> bool:
        return False  # scoring takes a while: only on request

    def check(self) -> None:
        """Run the model's invertibility check (the subclass's)."""

    def diagnostics_text(self, report: dict) -> str:
        raise NotImplementedError

    def show_diagnostics(self, report: dict) -> None:
        self.diagnostics = report
        self.caption.setText(self.diagnostics_text(report))

    def cells(self, index: int) -> list[str]:
        """The table's cells for item ``index`` of :attr:`result`, after its rank."""
        raise NotImplementedError

    def outlier_tip(self, index: int) -> str:
        return "an outlier of this set by this score"

    def show_item(self, row: int, index: int) -> None:
        """Show item ``index`` of :attr:`result`, selected at ``row`` of the table."""

    def can_rank_by(self, score: str) -> bool:
        return True

    def show_ranking(self, result: Any) -> None:
        self.result = result
        if self.score.currentData() != result.score:
            self.score.blockSignals(True)
            self.score.setCurrentIndex(list(self.labels).index(result.score))
            self.score.blockSignals(False)
        self._fill_table()
        self.caption.setText(result.caption)
        if len(result.order):
            self.table.selectRow(0)

    def _rerank(self) -> None:
        if self.result is not None and self.can_rank_by(self.score.currentData()):
            self.show_ranking(self.result.by(self.score.currentData()))

    def _fill_table(self) -> None:
        result = self.result
        self.table.blockSignals(True)
        self.table.setRowCount(len(result.order))
        outlier_brush = QBrush(QColor(OUTLIER_COLOR))
        for row, index in enumerate(result.order):
            for col, text in enumerate([str(row + 1), *self.cells(int(index))]):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(index))
                if result.outliers[index]:
                    item.setBackground(outlier_brush)
                    item.setToolTip(self.outlier_tip(int(index)))
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.result is None or not rows:
            return
        row = rows[0].row()
        self.show_item(row, int(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)))
