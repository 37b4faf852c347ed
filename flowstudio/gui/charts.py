"""A live loss chart painted with QPainter (QtCharts is not part of PySide6-Essentials).

Loss terms (NLL, total loss, the RNODE regularizers, ...) share the left axis; the ODE's
function evaluations (NFE) use a secondary axis on the right. Clicking a legend entry hides
or shows its series and the axes rescale to what is visible, so the small regularization
terms can be read without the NLL flattening them. Hovering shows the values at a step.
Long runs stay cheap to draw: each series is reduced to a min/max envelope per pixel column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ["#58a6ff", "#f78166", "#3fb950", "#d2a8ff", "#e3b341", "#ff7b72", "#79c0ff", "#a5d6ff"]
NFE_COLORS = {"NFE forward": "#8b949e", "NFE backward": "#6e7681"}
REPAINT_MS = 250
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
    if abs(value) >= 1e4 or abs(value) < 1e-2:
        return f"{value:.1e}"
    return f"{value:.3g}"


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
        self._x_range = (0.0, 1.0)
        self.placeholder = "Press Train: the loss curves appear here as the run goes."
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(REPAINT_MS)
        self._repaint.timeout.connect(self.update)

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

    # geometry -----------------------------------------------------------------------------
    def _ranges(self, secondary: bool) -> tuple[float, float] | None:
        lo, hi = math.inf, -math.inf
        for s in self.series.values():
            if s.secondary == secondary and s.visible and s.values:
                values = np.asarray(s.values)
                # ignore the first 2% of the run: the initial spike would squash the rest
                start = min(len(values) - 1, len(values) // 50)
                lo, hi = min(lo, values[start:].min()), max(hi, values[start:].max())
        if not math.isfinite(lo):
            return None
        pad = (hi - lo) * 0.06 or max(abs(hi) * 0.05, 1e-3)
        return lo - pad, hi + pad

    def _layout(self, p: QPainter) -> None:
        has_secondary = any(s.secondary and s.visible and s.values for s in self.series.values())
        right = self.width() - (58 if has_secondary else 16)
        # legend entries flow left to right and wrap; the plot starts below them
        self._legend_boxes = []
        metrics = p.fontMetrics()
        x, y = 64.0, 6.0
        for s in self.series.values():
            label = f"{s.name} {format_tick(s.values[-1])}" if s.values else s.name
            width = 18 + metrics.horizontalAdvance(label) + 14
            if x + width > right and x > 64:
                x, y = 64.0, y + 18
            self._legend_boxes.append((QRectF(x, y, width, 18), s.name))
            x += width
        top = y + 26
        self._plot = QRectF(64, top, max(10, right - 64), max(10, self.height() - top - 30))
        steps = [s.steps[-1] for s in self.series.values() if s.steps]
        first = [s.steps[0] for s in self.series.values() if s.steps]
        lo, hi = (min(first), max(steps)) if steps else (0.0, 1.0)
        self._x_range = (lo, hi if hi > lo else lo + 1)

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
        plot = self._plot
        p.fillRect(plot, QColor(PLOT_BG))
        if not any(s.values for s in self.series.values()):
            p.setPen(QColor("#8b949e"))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.placeholder)
            p.end()
            return
        primary, secondary = self._ranges(False), self._ranges(True)
        self._draw_axes(p, primary, secondary)
        p.save()
        p.setClipRect(plot.adjusted(-1, -1, 1, 1))
        for s in self.series.values():
            rng = secondary if s.secondary else primary
            if s.visible and s.values and rng is not None:
                self._draw_series(p, s, rng)
        p.restore()
        self._draw_legend(p)
        self._draw_hover(p, primary, secondary)
        p.end()

    def _draw_axes(self, p: QPainter, primary, secondary) -> None:
        plot = self._plot
        grid = QPen(QColor(GRID), 1, Qt.PenStyle.DotLine)
        p.setPen(QColor(TEXT))
        if primary is not None:
            for t in nice_ticks(*primary):
                y = self._y(t, primary, plot)
                p.setPen(grid)
                p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                p.setPen(QColor(TEXT))
                p.drawText(
                    QRectF(0, y - 8, plot.left() - 6, 16),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    format_tick(t),
                )
        if secondary is not None:
            p.setPen(QColor(NFE_COLORS["NFE forward"]))
            for t in nice_ticks(*secondary, count=4):
                y = self._y(t, secondary, plot)
                p.drawText(
                    QRectF(plot.right() + 6, y - 8, 52, 16),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    format_tick(t),
                )
            p.save()
            p.translate(self.width() - 4, plot.center().y())
            p.rotate(-90)
            p.drawText(QRectF(-40, -12, 80, 12), Qt.AlignmentFlag.AlignCenter, "NFE")
            p.restore()
        p.setPen(QColor(TEXT))
        for t in nice_ticks(*self._x_range, count=max(2, int(plot.width() / 90))):
            x = self._x(t)
            p.setPen(grid)
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(QColor(TEXT))
            p.drawText(QRectF(x - 40, plot.bottom() + 4, 80, 16), Qt.AlignmentFlag.AlignCenter, f"{t:g}")
        p.drawText(QRectF(plot.right() - 60, plot.bottom() + 14, 60, 16), Qt.AlignmentFlag.AlignRight, "step")
        p.setPen(QPen(QColor(GRID), 1))
        p.drawRect(plot)

    def _draw_series(self, p: QPainter, s: Series, rng: tuple[float, float]) -> None:
        steps, values = np.asarray(s.steps), np.asarray(s.values)
        xs = (
            self._plot.left()
            + (steps - self._x_range[0]) / (self._x_range[1] - self._x_range[0]) * self._plot.width()
        )
        ys = self._plot.bottom() - (values - rng[0]) / (rng[1] - rng[0]) * self._plot.height()
        if len(xs) > self._plot.width() / 2:  # a min/max envelope per 2-pixel column
            cols = (xs / 2).astype(int)
            starts = np.concatenate([[0], np.flatnonzero(np.diff(cols)) + 1])
            lo, hi = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
            xs = np.repeat(xs[starts], 2)
            ys = np.column_stack([lo, hi]).ravel()
        pen = QPen(QColor(s.color), 1.6 if not s.secondary else 1.2)
        if s.secondary:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolyline([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])
        if len(xs) == 1:
            p.setBrush(QColor(s.color))
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

    def _draw_hover(self, p: QPainter, primary, secondary) -> None:
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
