"""Likelihood scores of the loaded collection: a ranking with its outliers coloured, the
per-point log-likelihood of the selected shape, and the model's invertibility checks."""

from __future__ import annotations

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
)

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.scores import (
    DEFAULT_SCORE,
    SCORE_LABELS,
    WARNING,
    RankedShapes,
    diagnose_model,
    diagnostics_text,
    rank_shapes,
)

OUTLIER_COLOR = "#8b2b2b"


class ScoresPage(AnalysisPage):
    action = "press Score to rank the loaded shapes"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.score = QComboBox(self)
        for key, label in SCORE_LABELS.items():
            self.score.addItem(label, key)
        self.score.setCurrentIndex(list(SCORE_LABELS).index(DEFAULT_SCORE))
        self.score.setToolTip("Higher is more like the training data for every score")
        self.button = QPushButton("Score", self)
        self.button.setToolTip("Score every loaded shape under the model and rank them")
        self.check_button = QPushButton("Check invertibility", self)
        self.check_button.setToolTip(
            "Round trip x -> z -> x on data and samples, log|det J| against autograd, Lipschitz estimates"
        )
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["rank", "shape", "score"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.view = CloudView(self, f"{NO_MODEL}\nThen press Score: the selected shape shows its log p(x).")
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.view)
        split.setSizes([280, 620])
        self.caption = QLabel(WARNING, self)
        self.caption.setObjectName("SummaryLabel")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result: RankedShapes | None = None
        self.diagnostics: dict | None = None
        self.button.clicked.connect(self.refresh)
        self.check_button.clicked.connect(self.check)
        self.score.currentIndexChanged.connect(lambda _: self._rerank())
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.lay_out(
            controls_row(QLabel("Rank by"), self.score, self.button, self.check_button), split, self.caption
        )

    def stale(self) -> bool:
        return False  # scoring a collection takes a while: only on request

    def refresh(self) -> None:
        shapes = self.workspace.shapes()
        if self.model is None or shapes is None:
            self.workspace.error("Scores need a trained model and loaded shapes.")
            return
        task, names = self.model.task, list(self.workspace.data.data.names)
        score = self.score.currentData()
        self.caption.setText(f"Scoring {min(len(shapes), 400)} shapes… {WARNING}")
        self.submit("scores", lambda: rank_shapes(task, shapes, names, score), self.show_ranking)

    def check(self) -> None:
        if self.model is None:
            self.workspace.error("The invertibility check needs a trained model.")
            return
        task, shapes = self.model.task, self.workspace.shapes()
        names = list(self.workspace.data.data.names) if shapes is not None else None
        self.caption.setText("Checking invertibility…")
        self.submit("diagnose", lambda: diagnose_model(task, shapes, names), self.show_diagnostics)

    def show_diagnostics(self, report: dict) -> None:
        self.diagnostics = report
        self.caption.setText(diagnostics_text(report))

    def show_ranking(self, result: RankedShapes) -> None:
        self.result = result
        if self.score.currentData() != result.score:
            self.score.blockSignals(True)
            self.score.setCurrentIndex(list(SCORE_LABELS).index(result.score))
            self.score.blockSignals(False)
        self._fill_table()
        self.caption.setText(result.caption)
        if len(result.order):
            self.table.selectRow(0)

    def _rerank(self) -> None:
        if self.result is None:
            return
        key = self.score.currentData()
        if not self.result.defined(key):
            self.workspace.error(f"{SCORE_LABELS[key]} is not defined for this model.")
            return
        self.show_ranking(self.result.by(key))

    def _fill_table(self) -> None:
        result = self.result
        assert result is not None
        self.table.blockSignals(True)
        self.table.setRowCount(len(result.order))
        outlier_brush = QBrush(QColor(OUTLIER_COLOR))
        for row, index in enumerate(result.order):
            cells = [str(row + 1), result.names[index], f"{result.value(index):.3f}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(index))
                if result.outliers[index]:
                    item.setBackground(outlier_brush)
                    item.setToolTip("an outlier of this collection by this score")
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.result is None or not rows:
            return
        index = int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))
        result = self.result
        tag = "outlier, " if result.outliers[index] else ""
        self.view.show_clouds(
            [result.clouds[index]], scalars=[result.point_ll[index]], scalar_title="log p(x)",
            title=f"{result.names[index]}: {tag}{SCORE_LABELS[result.score]} {result.value(index):.3f}",
            reset_camera=True,
        )
