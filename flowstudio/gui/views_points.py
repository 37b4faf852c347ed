"""Point-cloud views: pyvistaqt render windows (the density slice is in :mod:`.views_slice`).

:class:`CloudView` is a :class:`~flowstudio.gui.views_vtk.VtkView` (a lazily created
:class:`pyvistaqt.QtInteractor`, closed explicitly). Several clouds are laid out side by
side in one scene, each with an optional per-point scalar (e.g. ``log p(x)``). A click
(a press and release without a drag) on a shape emits :attr:`CloudView.shape_clicked` with
its index, so the pages can offer it as an analysis input.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from flowstudio.gui.cloud_screen import camera_matrix, cloud_at, nearest_per_pixel, project
from flowstudio.gui.views_vtk import CLOUD_BG, VtkView, qimage_to_array

__all__ = ["CLOUD_BG", "CloudView", "VtkView", "best_columns", "qimage_to_array"]

DEFAULT_CMAP = "viridis"
SPHERE_LIMIT = 200_000
"""Clouds with more points are drawn as flat points: sphere impostors cost a shader per point.
A still frame of such a cloud draws only the nearest point in each pixel
(:func:`~flowstudio.gui.cloud_screen.nearest_per_pixel`, chosen again when the camera or the
view's size changes): the same picture at a fraction of the cost in software OpenGL."""
LOD_POINTS = 100_000
"""While the mouse rotates a cloud of more points than :data:`SPHERE_LIMIT`, at most this
many (a fixed random subset) are drawn; the whole cloud comes back when the mouse is
released. The subset shrinks (to :data:`LOD_MIN_POINTS`) while frames take longer than
:data:`LOD_FRAME_S` and grows back when they are fast: the renderer's speed (a GPU, or
Mesa's software rasterizer on a busy CPU) decides how many points a smooth rotation has."""
LOD_MIN_POINTS = 5_000
LOD_FRAME_S = 0.04
CLICK_PIXELS = 4
"""A press and release closer than this is a click on a shape, not a drag of the camera."""
PICK_PIXELS = 12
"""A click this close to a shape's nearest point picks it."""


class CloudView(VtkView):
    """One 3-D scene showing a row/grid of point clouds."""

    shape_clicked = Signal(int)
    """The index (in the last :meth:`show_clouds`) of the cloud a click fell on."""

    def __init__(
        self,
        parent: QWidget | None = None,
        placeholder: str = "Nothing to show yet.",
        point_size: float = 5.0,
    ) -> None:
        super().__init__(parent, placeholder)
        self.point_size = point_size
        self._layout_key: tuple | None = None
        self._scene: tuple | None = None
        self._cloud = None
        self._actor = None
        self._lod = None  # the subset drawn while the mouse rotates a big cloud
        self.lod_budget = LOD_POINTS  # its size, adapted to the frame time
        self._frame_start = 0.0
        self._title_actor = None
        self._points = np.zeros((0, 3), np.float32)  # the clouds as placed in the scene
        self._starts = np.zeros(1, np.int64)  # where each cloud begins in them
        self._full = None  # a big cloud's (points, columns, values) of which a still frame shows a part
        self._still_key: tuple | None = None  # the camera and size that part was chosen for
        self._press: tuple[int, int] | None = None

    def ensure_plotter(self):
        fresh = self.plotter is None
        plotter = super().ensure_plotter()
        if fresh and plotter is not None:
            interactor = plotter.iren.interactor
            interactor.AddObserver("LeftButtonPressEvent", lambda obj, _: self._pressed(obj), 1.0)
            # the release itself goes only to the camera style, which grabbed the mouse on
            # the press; the end of its (maybe empty) rotation comes to every observer
            interactor.AddObserver("EndInteractionEvent", lambda obj, _: self._released(obj))
        return plotter

    def _pressed(self, interactor) -> None:
        self._press = interactor.GetEventPosition()

    def _released(self, interactor) -> None:
        """A press and release in one place: the shape under it, if any, is clicked."""
        press, self._press = self._press, None
        x, y = interactor.GetEventPosition()
        if press is None or abs(x - press[0]) + abs(y - press[1]) > CLICK_PIXELS or self.plotter is None:
            return
        index = self.cloud_at(x, y)
        if index is not None:
            self.shape_clicked.emit(index)

    def cloud_at(self, x: float, y: float) -> int | None:
        """The index of the cloud drawn at display pixel (``x``, ``y``; origin bottom left)."""
        if self.plotter is None or not len(self._points):
            return None
        px, py = self._to_display(self._points)
        return cloud_at(px, py, self._starts[:-1], (x, y), PICK_PIXELS)

    def display_position(self, index: int) -> tuple[int, int]:
        """The display pixel (origin bottom left) of a point in the middle of cloud
        ``index``: where a click picks it (for tests and scripts)."""
        start, end = self._starts[index], self._starts[index + 1]
        px, py = self._to_display(self._points[(start + end) // 2][None])
        return round(float(px[0])), round(float(py[0]))

    def _to_display(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        renderer = self.plotter.renderer
        width, height = renderer.GetSize()
        matrix = camera_matrix(renderer.GetActiveCamera(), width, height)
        x, y, _ = project(np.ascontiguousarray(points.T), matrix, width, height)
        return x, y

    # drawing ------------------------------------------------------------------------------
    def show_clouds(
        self,
        clouds: Sequence[np.ndarray],
        scalars: Sequence[np.ndarray] | None = None,
        labels: Sequence[str] | None = None,
        columns: int | None = None,
        scalar_title: str = "",
        cmap: str | None = None,
        clim: tuple[float, float] | None = None,
        reset_camera: bool = False,
        title: str = "",
    ) -> None:
        """Draw ``clouds`` (each (P, 3)) in a grid; ``scalars`` color the points.

        All clouds form one merged point set and one actor. When only the coordinates and
        values change (live samples, a trajectory's frames), they are updated in place,
        which costs one render instead of rebuilding the scene.
        """
        if self.defer(
            self.show_clouds, clouds, scalars, labels, columns, scalar_title, cmap, clim, reset_camera, title
        ):
            return
        plotter = self.ensure_plotter()
        clouds = [np.asarray(c, dtype=np.float32) for c in clouds]
        k = len(clouds)
        columns = columns or best_columns(k, self.width() / max(1, self.height()))
        extent = max((float(np.ptp(c, axis=0).max()) for c in clouds if len(c)), default=1.0) or 1.0
        spacing = extent * 1.25
        placed, values, anchors = [], [], []
        for i, cloud in enumerate(clouds):
            row, col = divmod(i, columns)
            offset = np.array([col * spacing, -row * spacing, 0.0], dtype=np.float32)
            shifted = cloud - (cloud.mean(axis=0) if len(cloud) else 0) + offset
            placed.append(shifted)
            # without scalars, color by height: it reads the shape at a glance
            values.append(np.asarray(scalars[i], dtype=np.float32) if scalars is not None else cloud[:, 1])
            anchors.append([col * spacing, (shifted[:, 1].min() if len(cloud) else 0) - extent * 0.12, 0.0])
        points = np.concatenate(placed) if placed else np.zeros((0, 3), np.float32)
        values = np.concatenate(values) if values else np.zeros(0, np.float32)
        self._points, self._starts = points, np.cumsum([0, *(len(c) for c in clouds)])
        if clim is None:
            finite = values[np.isfinite(values)]
            clim = (
                (float(np.percentile(finite, 2)), float(np.percentile(finite, 98))) if finite.size else (0, 1)
            )
            if clim[1] <= clim[0]:
                clim = (clim[0], clim[0] + 1e-6)
        labels = list(labels) if labels else []
        scene = (tuple(len(c) for c in clouds), columns, scalars is None, scalar_title, cmap, tuple(labels))
        # in place only without labels (they sit under their shapes, which move with new
        # clouds) and below the level-of-detail size (its subset is rebuilt with the scene)
        if scene == self._scene and self._cloud is not None and not labels and self._lod is None:
            self._cloud.points = points
            self._cloud["values"] = values
            self._actor.mapper.scalar_range = clim
        else:
            self._build_scene(
                plotter,
                points,
                values,
                clim,
                scalars is not None,
                scalar_title,
                cmap,
                [a for a, t in zip(anchors, labels, strict=False) if t],
                [t for t in labels if t],
            )
            self._scene = scene
        if self._title_actor is None:
            self._title_actor = plotter.add_text(
                title, position="upper_left", font_size=11, color="#c9d1d9", name="title"
            )
        else:
            self._title_actor.SetText(2, title)  # 2: the upper-left corner of the annotation
        # keep the user's camera while the layout stays (live samples jitter a little in size)
        old = self._layout_key
        if reset_camera or old is None or old[:2] != (k, columns) or not 0.75 < extent / old[2] < 1.33:
            self._fit_camera(plotter, points, extent * (0.2 if labels else 0.05))
            self._layout_key = (k, columns, extent)
        plotter.render()
        self.draw_count += 1

    def _watch_interaction(self) -> None:
        """Swap the whole cloud for its subset while the mouse rotates it (once per view)."""
        if getattr(self, "_watching", False) or self.plotter is None:
            return
        self._watching = True
        interactor = self.plotter.iren.interactor
        interactor.AddObserver("StartInteractionEvent", lambda *_: self.set_interacting(True))
        interactor.AddObserver("EndInteractionEvent", lambda *_: self.set_interacting(False))
        window = self.plotter.ren_win
        window.AddObserver("StartEvent", lambda *_: self._frame_starts())
        window.AddObserver("EndEvent", lambda *_: self._adapt_lod(time.perf_counter() - self._frame_start))

    def _frame_starts(self) -> None:
        self._frame_start = time.perf_counter()
        self._choose_still_points()

    def _choose_still_points(self) -> None:
        """Before a still frame of a big cloud: draw the nearest point in each pixel for the
        camera and size of this frame (chosen again only when they changed)."""
        if self._full is None or not self._actor.GetVisibility():  # the subset is rotating
            return
        renderer = self.plotter.renderer
        width, height = renderer.GetSize()
        camera = renderer.GetActiveCamera()
        key = (
            width,
            height,
            camera.GetPosition(),
            camera.GetFocalPoint(),
            camera.GetViewUp(),
            camera.GetParallelProjection(),
            camera.GetParallelScale(),
            camera.GetViewAngle(),
        )
        if key == self._still_key:
            return
        self._still_key = key
        points, columns, values = self._full
        x, y, depth = project(columns, camera_matrix(camera, width, height), width, height)
        keep = nearest_per_pixel(x, y, depth, width, height)
        self._set_points(self._cloud, points[keep], values[keep])

    @staticmethod
    def _set_points(mesh, points: np.ndarray, values: np.ndarray) -> None:
        import pyvista as pv

        part = pv.PolyData(points)
        part["values"] = values
        mesh.copy_from(part)  # drawn from this frame on

    def _adapt_lod(self, frame_s: float) -> None:
        """After a frame drawn with the subset: fewer points when it was slow, more when fast."""
        if self._lod is None or not self._lod.GetVisibility():
            return
        budget = self.lod_budget
        if frame_s > LOD_FRAME_S:
            budget = max(LOD_MIN_POINTS, int(budget * 0.8 * LOD_FRAME_S / frame_s))
        elif frame_s < LOD_FRAME_S / 3:
            budget = min(LOD_POINTS, len(self._lod_source[0]), budget * 2)
        if budget != self.lod_budget:
            self.lod_budget = budget
            self._set_points(self._lod_mesh, self._lod_source[0][:budget], self._lod_source[1][:budget])

    def set_interacting(self, on: bool) -> None:
        """Draw the level-of-detail subset (``on``) or the whole cloud."""
        if self._lod is None or self._actor is None:
            return
        self._lod.SetVisibility(on)
        self._actor.SetVisibility(not on)
        if not on and self.plotter is not None:
            self.plotter.render()

    def _fit_camera(self, plotter, points: np.ndarray, margin: float) -> None:
        """Look along -z with an orthographic camera that fits the grid to the view: a grid
        of shapes reads best flat-on, and the mouse still rotates it."""
        plotter.view_xy(render=False)
        plotter.reset_camera(render=False)
        if not len(points):
            return
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        aspect = self.width() / max(1, self.height())
        half_w, half_h = (hi[0] - lo[0]) / 2 + margin, (hi[1] - lo[1]) / 2 + margin
        camera = plotter.camera
        camera.parallel_projection = True
        camera.parallel_scale = 1.06 * max(half_h, half_w / aspect)

    def _build_scene(
        self, plotter, points, values, clim, has_scalars, scalar_title, cmap, anchors, texts
    ) -> None:
        import pyvista as pv

        plotter.clear()
        self._title_actor = None
        big = len(points) > SPHERE_LIMIT
        # a big cloud is kept whole here, and a still frame draws the part it can show
        self._full = (points, np.ascontiguousarray(points.T), values) if big else None
        self._still_key = None
        shown = slice(LOD_MIN_POINTS) if big else slice(None)  # until the first frame chooses
        self._cloud = pv.PolyData(points[shown])
        self._cloud["values"] = values[shown]
        style = {
            "scalars": "values",
            "cmap": cmap or DEFAULT_CMAP,
            "clim": clim,
            "render_points_as_spheres": not big,
            "point_size": 2.0 if big else self.point_size,
            "show_scalar_bar": False,
            "style": "points",
            "render": False,
        }
        self._actor = plotter.add_mesh(self._cloud, **style)
        self._lod = None
        if big:
            # a random order once: every budget's subset is a prefix, spread over the cloud
            order = np.random.default_rng(0).permutation(len(points))[:LOD_POINTS]
            self._lod_source = (points[order], values[order])
            self._lod_mesh = pv.PolyData(self._lod_source[0][: self.lod_budget])
            self._lod_mesh["values"] = self._lod_source[1][: self.lod_budget]
            self._lod = plotter.add_mesh(self._lod_mesh, **{**style, "point_size": 3.0})
            self._lod.SetVisibility(False)
            self._watch_interaction()
        if has_scalars:
            plotter.add_scalar_bar(
                title=scalar_title or "value",
                n_labels=4,
                color="#c9d1d9",
                vertical=True,
                position_x=0.9,
                position_y=0.1,
                width=0.06,
                height=0.8,
                title_font_size=12,
                label_font_size=11,
                render=False,
            )
        if texts:
            plotter.add_point_labels(
                np.array(anchors),
                texts,
                font_size=13,
                text_color="#c9d1d9",
                shape=None,
                show_points=False,
                always_visible=True,
                render=False,
            )


def best_columns(k: int, aspect: float) -> int:
    """The column count that gives ``k`` square cells the most room in a view of ``aspect``."""
    return max(range(1, max(1, k) + 1), key=lambda c: min(aspect / c, 1 / math.ceil(k / c)))
