"""How the loss chart paints itself: panes, axes, curves, legend and the hover box.

:class:`ChartPainting` is the painting half of :class:`flowstudio.gui.charts.LossChart`
(mixed into it, as the workspace's parts are): the chart lays out its panes from its
series (:class:`Series`, :class:`Pane`) and this draws them. Long runs stay cheap to draw:
each series is reduced to a min/max envelope per 2-pixel column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen

from flowstudio.gui.chart_style import BACKGROUND, GRID, NFE_COLORS, PLOT_BG, TEXT, format_tick, nice_ticks
from flowstudio.workbench import curves


def curve_pen(color: QColor) -> QPen:
    """A curve's pen: one pixel wide and cosmetic, which Qt draws with its fast line
    stroker. A wider pen (1.6 px, as before) is stroked as an outline polygon and filled;
    for a noisy curve of a few hundred points that took thousands of times longer, and
    the repaints of a followed run's chart were the window's longest stalls
    (``benchmarks/follow_stall_profile.py``, ``benchmarks/results/gui_follow.md``)."""
    pen = QPen(color, 1.0)
    pen.setCosmetic(True)
    return pen


@dataclass
class Series:
    name: str
    color: str
    secondary: bool
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    visible: bool = True
    _arrays: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.empty(0), np.empty(0)), repr=False, compare=False
    )

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``steps`` and ``values`` as float arrays. The lists only grow (the chart appends),
        so only the points added since the last call are converted: a repaint of a long run
        no longer turns every list into an array several times over."""
        steps, values = self._arrays
        done = len(values)
        if done != len(self.values):
            if done > len(self.values):  # not appended to: convert all again
                done, steps, values = 0, np.empty(0), np.empty(0)
            steps = np.concatenate([steps, np.asarray(self.steps[done:], dtype=np.float64)])
            values = np.concatenate([values, np.asarray(self.values[done:], dtype=np.float64)])
            self._arrays = (steps, values)
        return steps, values


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


class ChartPainting:
    """``paintEvent`` and its parts, for a chart that has laid out ``panes``, ``_plot``,
    ``_x_range`` and ``_legend_boxes`` (see :class:`flowstudio.gui.charts.LossChart`)."""

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
            raw_values = self._scaled(s.arrays()[1], tau, s.secondary)
            self._polyline(p, s, raw_values, rng, plot, curve_pen(raw))
        pen = curve_pen(QColor(s.color))
        if s.secondary:
            pen.setStyle(Qt.PenStyle.DashLine)
        self._polyline(p, s, self.shown_values(s, tau), rng, plot, pen)

    def _polyline(self, p: QPainter, s: Series, values, rng, plot: QRectF, pen: QPen) -> None:
        steps = s.arrays()[0]
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
                i = int(np.clip(np.searchsorted(s.arrays()[0], step), 0, len(s.steps) - 1))
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
