"""Small multiples of histograms: for each property, the generated molecules' shares (blue
bars) over the training set's (grey), on the same bins (QPainter; a few dozen bars each)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from flowstudio.gui.chart_style import BACKGROUND, GRID, PLOT_BG, TEXT, format_tick
from flowstudio.workbench.evaluation import HistogramPanel

GENERATED, REFERENCE = QColor(88, 166, 255, 170), QColor(139, 148, 158, 150)


class HistogramGrid(QWidget):
    """A grid of :class:`~flowstudio.workbench.evaluation.HistogramPanel`."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("HistogramGrid")
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.panels: list[HistogramPanel] = []
        self.placeholder = placeholder or "Press Evaluate: histograms of the samples over the training set's."

    def set_panels(self, panels: list[HistogramPanel]) -> None:
        self.panels = list(panels)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(BACKGROUND))
        if not self.panels:
            p.setPen(QColor("#8b949e"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            p.end()
            return
        legend = QRectF(8, 4, self.width() - 16, 18)
        p.setPen(QColor(TEXT))
        p.fillRect(QRectF(legend.left(), legend.top() + 4, 12, 10), GENERATED)
        p.drawText(legend.adjusted(16, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, "samples")
        p.fillRect(QRectF(legend.left() + 90, legend.top() + 4, 12, 10), REFERENCE)
        p.drawText(legend.adjusted(106, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, "training set")
        columns = max(1, min(4, self.width() // 260))
        rows = math.ceil(len(self.panels) / columns)
        width = (self.width() - 8) / columns
        height = (self.height() - 26) / rows
        for i, panel in enumerate(self.panels):
            r, c = divmod(i, columns)
            self._draw_panel(p, panel, QRectF(4 + c * width, 26 + r * height, width - 8, height - 8))
        p.end()

    def _draw_panel(self, p: QPainter, panel: HistogramPanel, box: QRectF) -> None:
        p.setPen(QColor(TEXT))
        p.drawText(QRectF(box.left(), box.top(), box.width(), 16), Qt.AlignmentFlag.AlignLeft, panel.title)
        plot = QRectF(box.left() + 4, box.top() + 18, box.width() - 8, box.height() - 36)
        p.fillRect(plot, QColor(PLOT_BG))
        edges = panel.edges
        top = max(float(np.max(panel.shares, initial=0)), float(np.max(panel.reference_shares, initial=0)))
        if len(edges) < 2 or top <= 0:
            return
        lo, hi = float(edges[0]), float(edges[-1])

        def x(v: float) -> float:
            return plot.left() + (v - lo) / (hi - lo or 1.0) * plot.width()

        layers = ((panel.reference_shares, REFERENCE, 0.0), (panel.shares, GENERATED, 0.2))
        for shares, color, inset in layers:
            for k, share in enumerate(shares):
                if share <= 0:
                    continue
                x0, x1 = x(edges[k]), x(edges[k + 1])
                pad = (x1 - x0) * inset
                h = share / top * (plot.height() - 2)
                p.fillRect(QRectF(x0 + pad, plot.bottom() - h, max(1.0, x1 - x0 - 2 * pad), h), color)
        p.setPen(QPen(QColor(GRID), 1))
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        p.setPen(QColor(TEXT))
        for value, align in ((lo, Qt.AlignmentFlag.AlignLeft), (hi, Qt.AlignmentFlag.AlignRight)):
            p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14), align, format_tick(value))
