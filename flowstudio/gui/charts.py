"""A live loss chart painted with QPainter (QtCharts is not part of PySide6-Essentials).

Loss terms (NLL, total loss, the RNODE regularizers, ...) share the left axis; the ODE's
function evaluations (NFE) use a secondary axis on the right. Three switches in the
chart's corner make terms of very different size readable (:mod:`flowstudio.workbench.curves`):
**Panes** gives every term its own pane and scale, **Log** a symmetric log scale (NLLs go
below zero), and **Smooth** an exponential moving average drawn over the faint raw curve.
Clicking a legend entry hides or shows its series and the axes rescale to what is visible.
Hovering shows the raw values at a step. Long runs stay cheap to draw: each series is
reduced to a min/max envelope per pixel column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QToolButton, QWidget

from flowstudio.workbench import curves

PALETTE = ["#58a6ff", "#f78166", "#3fb950", "#d2a8ff", "#e3b341", "#ff7b72", "#79c0ff", "#a5d6ff"]
NFE_COLORS = {"NFE forward": "#8b949e", "NFE backward": "#6e7681"}
REPAINT_MS = 250
SMOOTHING = 0.9
"""The moving average's weight when Smooth is on."""
TOOLS_WIDTH = 190
BACKGROUND, PLOT_BG, GRID, TEXT = "#0d1117", "#161b22", "#30363d", "#c9d1d9"


@dataclass
class Series:
    name: str
    color: str
    secondary: bool
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    visible: bool = True


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 × 10^k spacing)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def format_tick(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-2:
        return f"{value:.0e}" if abs(math.log10(abs(value)) % 1) < 1e-9 else f"{value:.1e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@dataclass
class Pane:
    """A plot rectangle with its series and y range (in display units: log when Log is on)."""

    rect: QRectF
    series: list[Series]
    rng: tuple[float, float] | None
    tau: float = 1.0
    right: list[Series] = field(default_factory=list)  # NFE on a right axis (one-pane mode)
    right_rng: tuple[float, float] | None = None
    right_tau: float = 1.0


class LossChart(QWidget):
    """Call :meth:`add` with each progress event; painting is coalesced by Qt's ``update``."""

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
        values = np.asarray(s.values, dtype=np.float64)
        if self.smooth_button.isChecked():
            values = curves.smooth(values, SMOOTHING)
        return self._scaled(values, tau, s.secondary)

    def _scaled(self, values: np.ndarray, tau: float, secondary: bool) -> np.ndarray:
        return curves.symlog(values, tau) if self.log_button.isChecked() and not secondary else values

    def _scale_of(self, group: list[Series]) -> tuple[tuple[float, float] | None, float]:
        raw = [np.asarray(s.values) for s in group]
        tau = curves.symlog_scale(np.concatenate(raw)) if raw else 1.0
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

    # painting -----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(BACKGROUND))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        self._layout(p)
        if not any(s.values for s in self.series.values()):
            p.fillRect(self._plot, QColor(PLOT_BG))
            p.setPen(QColor("#8b949e"))
            p.drawText(self._plot, Qt.AlignmentFlag.AlignCenter, self.placeholder)
            p.end()
            return
        for pane in self.panes:
            p.fillRect(pane.rect, QColor(PLOT_BG))
            log = self.log_button.isChecked() and not all(s.secondary for s in pane.series)
            self._draw_y_axis(p, pane.rect, pane.rng, pane.tau, left=True, log=log)
            if pane.right:
                self._draw_y_axis(p, pane.rect, pane.right_rng, pane.right_tau, left=False, log=False)
            p.save()
            p.setClipRect(pane.rect.adjusted(-1, -1, 1, 1))
            for s, rng, tau in [(s, pane.rng, pane.tau) for s in pane.series] + [
                (s, pane.right_rng, pane.right_tau) for s in pane.right
            ]:
                if rng is not None:
                    self._draw_series(p, s, rng, tau, pane.rect)
            p.restore()
            if self.panes_button.isChecked():
                p.setPen(QColor(TEXT))
                names = ", ".join(s.name for s in pane.series)
                p.drawText(pane.rect.adjusted(6, 2, 0, 0), Qt.AlignmentFlag.AlignLeft, names)
            p.setPen(QPen(QColor(GRID), 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(pane.rect)
        self._draw_x_axis(p)
        self._draw_legend(p)
        self._draw_hover(p)
        p.end()

    def _draw_y_axis(self, p: QPainter, plot: QRectF, rng, tau: float, left: bool, log: bool) -> None:
        if rng is None:
            return
        grid = QPen(QColor(GRID), 1, Qt.PenStyle.DotLine)
        count = max(2, min(5, int(plot.height() / 28)))
        for t in curves.symlog_ticks(*rng, tau, count) if log else nice_ticks(*rng, count=count):
            y = self._y(t, rng, plot)
            label = format_tick(float(curves.symlog_inverse(t, tau)) if log else t)
            if left:
                p.setPen(grid)
                p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                p.setPen(QColor(TEXT))
                box = QRectF(0, y - 8, plot.left() - 6, 16)
                p.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            else:
                p.setPen(QColor(NFE_COLORS["NFE forward"]))
                box = QRectF(plot.right() + 6, y - 8, 52, 16)
                p.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        if not left:
            p.save()
            p.translate(self.width() - 4, plot.center().y())
            p.rotate(-90)
            p.drawText(QRectF(-40, -12, 80, 12), Qt.AlignmentFlag.AlignCenter, "NFE")
            p.restore()

    def _draw_x_axis(self, p: QPainter) -> None:
        plot = self._plot
        grid = QPen(QColor(GRID), 1, Qt.PenStyle.DotLine)
        for t in nice_ticks(*self._x_range, count=max(2, int(plot.width() / 90))):
            x = self._x(t)
            p.setPen(grid)
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(QColor(TEXT))
            p.drawText(QRectF(x - 40, plot.bottom() + 4, 80, 16), Qt.AlignmentFlag.AlignCenter, f"{t:g}")
        p.drawText(QRectF(plot.right() - 60, plot.bottom() + 14, 60, 16), Qt.AlignmentFlag.AlignRight, "step")

    def _draw_series(
        self, p: QPainter, s: Series, rng: tuple[float, float], tau: float, plot: QRectF
    ) -> None:
        smoothing = self.smooth_button.isChecked()
        if smoothing:  # the raw curve, faint, under the trend
            raw = QColor(s.color)
            raw.setAlpha(60)
            raw_values = self._scaled(np.asarray(s.values), tau, s.secondary)
            self._polyline(p, s, raw_values, rng, plot, QPen(raw, 1.0))
        pen = QPen(QColor(s.color), 1.6 if not s.secondary else 1.2)
        if s.secondary:
            pen.setStyle(Qt.PenStyle.DashLine)
        self._polyline(p, s, self.shown_values(s, tau), rng, plot, pen)

    def _polyline(self, p: QPainter, s: Series, values, rng, plot: QRectF, pen: QPen) -> None:
        steps = np.asarray(s.steps)
        xs = plot.left() + (steps - self._x_range[0]) / (self._x_range[1] - self._x_range[0]) * plot.width()
        ys = plot.bottom() - (np.asarray(values) - rng[0]) / (rng[1] - rng[0]) * plot.height()
        if len(xs) > plot.width() / 2:  # a min/max envelope per 2-pixel column
            cols = (xs / 2).astype(int)
            starts = np.concatenate([[0], np.flatnonzero(np.diff(cols)) + 1])
            lo, hi = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
            xs = np.repeat(xs[starts], 2)
            ys = np.column_stack([lo, hi]).ravel()
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolyline([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])
        if len(xs) == 1:
            p.setBrush(pen.color())
            p.drawEllipse(QPointF(xs[0], ys[0]), 2.5, 2.5)

    def _draw_legend(self, p: QPainter) -> None:
        for box, name in self._legend_boxes:
            s = self.series[name]
            label = f"{s.name} {format_tick(s.values[-1])}" if s.values else s.name
            color = QColor(s.color)
            if not s.visible:
                color.setAlpha(70)
            mid = box.center().y()
            pen = QPen(color, 3)
            if s.secondary:
                pen.setStyle(Qt.PenStyle.DashLine)
                pen.setWidthF(2)
            p.setPen(pen)
            p.drawLine(QPointF(box.left() + 2, mid), QPointF(box.left() + 14, mid))
            p.setPen(QColor(TEXT) if s.visible else QColor("#6e7681"))
            p.drawText(
                QRectF(box.left() + 18, box.top(), box.width() - 18, box.height()),
                Qt.AlignmentFlag.AlignVCenter,
                label,
            )

    def _draw_hover(self, p: QPainter) -> None:
        if self._hover_x is None or not self._plot.contains(QPointF(self._hover_x, self._plot.center().y())):
            return
        lo, hi = self._x_range
        step = lo + (self._hover_x - self._plot.left()) / self._plot.width() * (hi - lo)
        lines = []
        for s in self.series.values():
            if s.visible and s.steps:
                i = int(np.clip(np.searchsorted(s.steps, step), 0, len(s.steps) - 1))
                lines.append((s.color, f"{s.name}: {format_tick(s.values[i])}"))
                step_shown = s.steps[i]
        if not lines:
            return
        p.setPen(QPen(QColor("#8b949e"), 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(self._hover_x, self._plot.top()), QPointF(self._hover_x, self._plot.bottom()))
        metrics = p.fontMetrics()
        width = max(metrics.horizontalAdvance(t) for _, t in lines) + 16
        height = 18 * (len(lines) + 1) + 6
        x = (
            self._hover_x + 10
            if self._hover_x + 10 + width < self._plot.right()
            else self._hover_x - 10 - width
        )
        box = QRectF(x, self._plot.top() + 6, width, height)
        p.setPen(QColor(GRID))
        p.setBrush(QColor(13, 17, 23, 220))
        p.drawRoundedRect(box, 4, 4)
        p.setPen(QColor(TEXT))
        p.drawText(
            QRectF(x + 8, box.top() + 3, width, 18), Qt.AlignmentFlag.AlignVCenter, f"step {step_shown:g}"
        )
        for k, (color, text) in enumerate(lines, start=1):
            p.setPen(QColor(color))
            p.drawText(QRectF(x + 8, box.top() + 3 + 18 * k, width, 18), Qt.AlignmentFlag.AlignVCenter, text)

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
