"""A live loss chart painted with QPainter (QtCharts is not part of PySide6-Essentials).

Loss terms (NLL, total loss, the RNODE regularizers, ...) share the left axis; the ODE's
function evaluations (NFE) use a secondary axis on the right. Three switches in the
chart's corner make terms of very different size readable (:mod:`flowstudio.workbench.curves`):
**Panes** gives every term its own pane and scale, **Log** a symmetric log scale (NLLs go
below zero), and **Smooth** an exponential moving average drawn over the faint raw curve.
Clicking a legend entry hides or shows its series and the axes rescale to what is visible.
Hovering shows the raw values at a step. This module holds the chart's data, layout and
interaction; :mod:`flowstudio.gui.chart_painting` paints it and
:mod:`flowstudio.gui.chart_style` holds the colours and ticks.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QToolButton, QWidget

from flowstudio.gui.chart_painting import ChartPainting, Pane, Series
from flowstudio.gui.chart_style import NFE_COLORS, PALETTE, format_tick
from flowstudio.workbench import curves

REPAINT_MS = 250
SMOOTHING = 0.9
"""The moving average's weight when Smooth is on."""
TOOLS_WIDTH = 190


class LossChart(ChartPainting, QWidget):
    """Call :meth:`add` with each progress event; painting is coalesced by Qt's ``update``
    and done by :class:`~flowstudio.gui.chart_painting.ChartPainting`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LossChart")
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.series: dict[str, Series] = {}
        self._legend_boxes: list[tuple[QRectF, str]] = []
        self._hover_x: float | None = None
        self._plot = QRectF()
        self.panes: list[Pane] = []
        self._x_range = (0.0, 1.0)
        self.placeholder = "Press Train: the loss curves appear here as the run goes."
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(REPAINT_MS)
        self._repaint.timeout.connect(self.update)
        self.tools = QWidget(self)
        row = QHBoxLayout(self.tools)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.panes_button = self._tool("Panes", "Each term in its own pane, on its own scale")
        self.log_button = self._tool("Log", "A symmetric log scale (takes negative values too)")
        self.smooth_button = self._tool("Smooth", "A moving average over the faint raw curve")
        for button in (self.panes_button, self.log_button, self.smooth_button):
            row.addWidget(button)
        self.tools.setStyleSheet(
            "QToolButton { color: #c9d1d9; padding: 2px 6px; border: 1px solid #30363d; border-radius: 4px; }"
            "QToolButton:checked { background: #1f6feb; color: #ffffff; border-color: #1f6feb; }"
        )

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self.tools)
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setObjectName(f"Chart{text}")
        button.toggled.connect(lambda _: self.update())
        return button

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.tools.adjustSize()
        self.tools.move(self.width() - self.tools.width() - 8, 4)

    # data ---------------------------------------------------------------------------------
    def clear(self) -> None:
        self.series.clear()
        self.update()

    def add(self, step: int, losses: dict[str, float], nfe: dict[str, float | None] | None = None) -> None:
        for name, value in losses.items():
            self._append(name, False, step, value)
        for name, value in (nfe or {}).items():
            if value is not None:
                self._append(name, True, step, value)
        if not self._repaint.isActive():  # at most REPAINT_MS apart, however fast steps come
            self._repaint.start()

    def _append(self, name: str, secondary: bool, step: int, value: float) -> None:
        series = self.series.get(name)
        if series is None:
            color = (
                NFE_COLORS.get(name)
                or PALETTE[len([s for s in self.series.values() if not s.secondary]) % len(PALETTE)]
            )
            series = self.series[name] = Series(name, color, secondary)
        if math.isfinite(value):
            series.steps.append(float(step))
            series.values.append(float(value))

    def set_visible_series(self, name: str, visible: bool) -> None:
        if name in self.series:
            self.series[name].visible = visible
            self.update()

    # display values -----------------------------------------------------------------------
    def shown_values(self, s: Series, tau: float) -> np.ndarray:
        """A series as drawn: smoothed when Smooth is on, then in log units when Log is
        (loss terms only: NFE counts stay linear)."""
        values = s.arrays()[1]
        if self.smooth_button.isChecked():
            values = curves.smooth(values, SMOOTHING)
        return self._scaled(values, tau, s.secondary)

    def _scaled(self, values: np.ndarray, tau: float, secondary: bool) -> np.ndarray:
        return curves.symlog(values, tau) if self.log_button.isChecked() and not secondary else values

    def _scale_of(self, group: list[Series]) -> tuple[tuple[float, float] | None, float]:
        raw = [s.arrays()[1] for s in group]
        log = self.log_button.isChecked() and raw
        tau = curves.symlog_scale(np.concatenate(raw)) if log else 1.0  # τ serves the Log scale only
        return curves.value_range([self.shown_values(s, tau) for s in group]), tau

    # geometry -----------------------------------------------------------------------------
    def _layout(self, p: QPainter) -> None:
        shown = [s for s in self.series.values() if s.visible and s.values]
        has_right = not self.panes_button.isChecked() and any(s.secondary for s in shown)
        right = self.width() - (58 if has_right else 16)
        # legend entries flow left to right and wrap (leaving the corner to the switches)
        self._legend_boxes = []
        metrics = p.fontMetrics()
        x, y, limit = 64.0, 6.0, right - TOOLS_WIDTH
        for s in self.series.values():
            label = f"{s.name} {format_tick(s.values[-1])}" if s.values else s.name
            width = 18 + metrics.horizontalAdvance(label) + 14
            if x + width > limit and x > 64:
                x, y, limit = 64.0, y + 18, right
            self._legend_boxes.append((QRectF(x, y, width, 18), s.name))
            x += width
        top = max(y + 26, 32)
        self._plot = QRectF(64, top, max(10, right - 64), max(10, self.height() - top - 30))
        steps = [s.steps[-1] for s in self.series.values() if s.steps]
        first = [s.steps[0] for s in self.series.values() if s.steps]
        lo, hi = (min(first), max(steps)) if steps else (0.0, 1.0)
        self._x_range = (lo, hi if hi > lo else lo + 1)
        self.panes = self._panes(shown)

    def _panes(self, shown: list[Series]) -> list[Pane]:
        primary = [s for s in shown if not s.secondary]
        secondary = [s for s in shown if s.secondary]
        if not self.panes_button.isChecked():
            rng, tau = self._scale_of(primary)
            right_rng, right_tau = self._scale_of(secondary)
            return [Pane(self._plot, primary, rng, tau, secondary, right_rng, right_tau)]
        groups = [[s] for s in primary] + ([secondary] if secondary else [])
        n, gap = max(1, len(groups)), 8.0
        height = (self._plot.height() - gap * (n - 1)) / n
        panes = []
        for i, group in enumerate(groups):
            rect = QRectF(
                self._plot.left(), self._plot.top() + i * (height + gap), self._plot.width(), height
            )
            rng, tau = self._scale_of(group)
            panes.append(Pane(rect, group, rng, tau))
        return panes

    def _x(self, step: float) -> float:
        lo, hi = self._x_range
        return self._plot.left() + (step - lo) / (hi - lo) * self._plot.width()

    @staticmethod
    def _y(value: float, rng: tuple[float, float], plot: QRectF) -> float:
        lo, hi = rng
        return plot.bottom() - (value - lo) / (hi - lo) * plot.height()

    # interaction --------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        for box, name in self._legend_boxes:
            if box.contains(event.position()):
                self.set_visible_series(name, not self.series[name].visible)
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover_x = event.position().x()
        self.update()

    def leaveEvent(self, event) -> None:
        self._hover_x = None
        self.update()
