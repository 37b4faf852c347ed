"""The density-slice view: ``log p`` on a plane painted as a viridis heat map over a robust
colour range, with log-density contours, its axes, a colour bar and the conditioning
shape's points near the plane overlaid (plain QPainter: a 2-D image needs no VTK render
window); and :class:`ShapeAndPlaneView`, the conditioning shape in 3-D with the plane."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from flowstudio.gui.views_points import CLOUD_BG, CloudView
from flowstudio.workbench.slices import robust_range

_VIRIDIS = np.array(
    [
        [68, 1, 84],
        [72, 35, 116],
        [64, 67, 135],
        [52, 94, 141],
        [41, 120, 142],
        [32, 144, 140],
        [34, 167, 132],
        [68, 190, 112],
        [121, 209, 81],
        [189, 222, 38],
        [253, 231, 37],
    ],
    dtype=np.float32,
)


def colormap(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values to viridis RGB (uint8); NaN becomes the background."""
    t = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    t = np.nan_to_num(t, nan=0.0)
    pos = t * (len(_VIRIDIS) - 1)
    i = np.minimum(pos.astype(int), len(_VIRIDIS) - 2)
    frac = (pos - i)[..., None]
    return (_VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac).astype(np.uint8)


class DensitySliceView(QWidget):
    """A heat map of ``log p`` on a plane through the shape, with nearby points overlaid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DensitySliceView")
        self.setMinimumSize(240, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._extent = (0.0, 1.0, 0.0, 1.0)
        self._points = np.zeros((0, 2), dtype=np.float32)
        self._range = (0.0, 1.0)
        self._axes = ("x", "y")
        self._contours: tuple[tuple[float, np.ndarray], ...] = ()
        self.caption = ""
        self.placeholder = "Train or open a model to see its density on a plane."

    def set_slice(
        self,
        log_p: np.ndarray,
        extent: tuple[float, float, float, float],
        points: np.ndarray | None = None,
        axes: tuple[str, str] = ("x", "y"),
        caption: str = "",
        color_range: tuple[float, float] | None = None,
        contours: tuple[tuple[float, np.ndarray], ...] = (),
    ) -> None:
        """``log_p`` (H, W) over ``extent`` (u0, u1, v0, v1); ``points`` (M, 2) in (u, v);
        values under ``color_range`` take its lowest colour; ``contours`` are (level,
        (M, 2, 2) segments in (u, v)) drawn as lines."""
        log_p = np.asarray(log_p, dtype=np.float64)
        lo, hi = color_range if color_range is not None else robust_range(log_p)
        self._contours = contours
        rgb = np.ascontiguousarray(colormap(log_p[::-1], lo, hi))  # row 0 is the top (largest v)
        h, w = log_p.shape
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._extent, self._range, self._axes, self.caption = extent, (lo, hi), axes, caption
        self._points = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float32)
        self.update()

    def set_placeholder_text(self, text: str) -> None:
        self.placeholder = text
        self.update()

    @property
    def placeholder_text(self) -> str:
        return self.placeholder

    def clear(self) -> None:
        self._image = None
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(CLOUD_BG))
        if self._image is None:
            p.setPen(QColor("#8b949e"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        side = min(self.width() - 120, self.height() - 60)
        side = max(side, 50)
        area = QRectF(50, 20, side, side)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(area, self._image)
        u0, u1, v0, v1 = self._extent
        p.setRenderHint(QPainter.RenderHint.Antialiasing)

        def to_px(uv: np.ndarray) -> np.ndarray:
            x = area.left() + (uv[..., 0] - u0) / (u1 - u0) * area.width()
            y = area.bottom() - (uv[..., 1] - v0) / (v1 - v0) * area.height()
            return np.stack([x, y], axis=-1)

        lo, hi = self._range
        p.save()
        p.setClipRect(area)
        for level, segments in self._contours:
            shade = int(140 + 115 * (level - lo) / (hi - lo or 1.0))
            p.setPen(QPen(QColor(255, 255, 255, shade), 1.0))
            for (x0, y0), (x1, y1) in to_px(segments).tolist():
                p.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        p.restore()
        if len(self._points):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 190))
            for u, v in self._points:
                x = area.left() + (u - u0) / (u1 - u0) * area.width()
                y = area.bottom() - (v - v0) / (v1 - v0) * area.height()
                if area.contains(QPointF(x, y)):
                    p.drawEllipse(QPointF(x, y), 1.8, 1.8)
        p.setPen(QPen(QColor("#30363d")))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(area)
        p.setPen(QColor("#c9d1d9"))
        p.drawText(
            QRectF(area.left(), area.bottom() + 4, area.width(), 18),
            Qt.AlignmentFlag.AlignCenter,
            f"{self._axes[0]}  [{u0:.2f}, {u1:.2f}]",
        )
        p.save()
        p.translate(area.left() - 8, area.center().y())
        p.rotate(-90)
        p.drawText(
            QRectF(-area.height() / 2, -18, area.height(), 18),
            Qt.AlignmentFlag.AlignCenter,
            f"{self._axes[1]}  [{v0:.2f}, {v1:.2f}]",
        )
        p.restore()
        if self.caption:
            p.drawText(
                QRectF(area.left(), area.bottom() + 22, area.width() + 80, 18),
                Qt.AlignmentFlag.AlignLeft,
                self.caption,
            )
        # color bar
        bar = QRectF(area.right() + 16, area.top(), 14, area.height())
        ramp = colormap(np.linspace(1, 0, 128)[:, None].repeat(2, axis=1), 0, 1)
        ramp = np.ascontiguousarray(ramp)
        p.drawImage(bar, QImage(ramp.data, 2, 128, 6, QImage.Format.Format_RGB888).copy())
        p.drawText(QRectF(bar.right() + 4, bar.top() - 2, 70, 16), Qt.AlignmentFlag.AlignLeft, f"{hi:.2f}")
        p.drawText(
            QRectF(bar.right() + 4, bar.bottom() - 14, 70, 16), Qt.AlignmentFlag.AlignLeft, f"≤ {lo:.2f}"
        )
        p.setPen(QPen(QColor(255, 255, 255, 200), 1.0))
        for level, _ in self._contours:  # the contour levels marked on the colour bar
            y = bar.bottom() - (level - lo) / (hi - lo or 1.0) * bar.height()
            p.drawLine(QPointF(bar.left() - 3, y), QPointF(bar.right(), y))
        p.setPen(QColor("#c9d1d9"))
        p.drawText(QRectF(bar.right() + 4, bar.center().y() - 8, 70, 16), Qt.AlignmentFlag.AlignLeft, "log p")
        p.end()

    def save_png(self, path: str) -> None:
        self.grab().save(path, "PNG")


class ShapeAndPlaneView(CloudView):
    """The shape a slice is conditioned on, in 3-D, with the slice's plane through it."""

    def show_shape_and_plane(self, shape: np.ndarray, corners: np.ndarray | None, title: str = "") -> None:
        if self.defer(self.show_shape_and_plane, shape, corners, title):
            return
        first = self.draw_count == 0
        self.show_clouds([shape], title=title, reset_camera=first)
        if corners is None or self.plotter is None:
            return
        if first:  # from above and aside: the plane seen edge-on or face-on hides where it cuts
            self.plotter.camera.parallel_projection = False
            self.plotter.view_isometric(render=False)
            self.plotter.reset_camera(render=False)
        import pyvista as pv

        shifted = np.asarray(corners, dtype=np.float64) - np.asarray(shape, dtype=np.float64).mean(axis=0)
        plane = pv.PolyData(shifted, faces=[4, 0, 1, 2, 3])
        self.plotter.add_mesh(plane, color="#58a6ff", opacity=0.35, name="slice-plane", render=False)
        self.plotter.add_mesh(
            plane.extract_all_edges(), color="#58a6ff", line_width=2, name="slice-edge", render=False
        )
        self.plotter.render()
