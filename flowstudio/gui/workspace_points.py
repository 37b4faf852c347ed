"""The point-cloud workspace: shapes in, PointFlow / CNF / discrete flows trained, explored.

Tabs: the data preview, the live training chart and samples, and one analysis page each
for samples at a temperature, latent interpolation, a density slice, the flow's trajectory
and reconstructions (:mod:`.pages`). Every model query runs on the job thread; the pages
only draw the arrays that come back. A click on a shape of the data preview offers it to
the pages that take a shape (the interpolation's ends, reconstruction, the density slice,
arithmetic), as their searchable lists do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QMenu, QSplitter, QTabWidget

from flowstudio.gui.pages.base import choose_shape
from flowstudio.gui.pages.points_arithmetic import ArithmeticPage
from flowstudio.gui.pages.points_interpolation import PointInterpolationPage
from flowstudio.gui.pages.points_metrics import PointMetricsPage
from flowstudio.gui.pages.points_reconstruction import ReconstructionPage
from flowstudio.gui.pages.points_samples import PointSamplesPage
from flowstudio.gui.pages.points_scores import ScoresPage
from flowstudio.gui.pages.points_slice import DensitySlicePage
from flowstudio.gui.pages.points_trajectory import TrajectoryPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.workspace import Workspace
from flowstudio.workbench.data import DataInfo
from flowstudio.workbench.points import PointsKind, preview_picks, thin
from flowstudio.workbench.provenance import of_model

SHAPE_CHOICES = 500
"""Shapes listed in the interpolation and reconstruction pickers."""


class PointsWorkspace(Workspace):
    kind_adapter = PointsKind()

    def build_views(self, tabs: QTabWidget) -> None:
        self.preview = CloudView(self, "Open a point cloud or pick a built-in sample.")
        self.preview.setToolTip("Drag to turn the shapes; click one to use it in an analysis")
        self.preview.shape_clicked.connect(self._preview_clicked)
        self.preview_picks = np.zeros(0, int)  # the data index of each shape the preview shows
        self.shape_menu: QMenu | None = None
        tabs.addTab(self.preview, "Data")

        self.training_tab = QSplitter(Qt.Orientation.Vertical, self)
        self.live_view = CloudView(self, "Live samples appear here every few seconds while training.")
        self.training_tab.addWidget(self.chart)
        self.training_tab.addWidget(self.live_view)
        self.training_tab.addWidget(self.history_bar)
        self.training_tab.setSizes([300, 400, 30])
        tabs.addTab(self.training_tab, "Training")

        self.samples_page = PointSamplesPage(self)
        self.interpolation_page = PointInterpolationPage(self)
        self.slice_page = DensitySlicePage(self)
        self.trajectory_page = TrajectoryPage(self)
        self.reconstruction_page = ReconstructionPage(self)
        tabs.addTab(self.samples_page, "Samples")
        tabs.addTab(self.interpolation_page, "Interpolation")
        tabs.addTab(self.slice_page, "Density slice")
        tabs.addTab(self.trajectory_page, "Trajectory")
        tabs.addTab(self.reconstruction_page, "Reconstruction")
        self.arithmetic_page = ArithmeticPage(self)
        tabs.addTab(self.arithmetic_page, "Arithmetic")
        self.metrics_page = PointMetricsPage(self)
        tabs.addTab(self.metrics_page, "Metrics")
        self.scores_page = ScoresPage(self)
        tabs.addTab(self.scores_page, "Scores")
        tabs.currentChanged.connect(lambda _: self._refresh_current())
        self.live_points: np.ndarray | None = None
        # the widgets the tests and the screenshot script reach by name
        page = self.samples_page
        self.samples_view, self.sample_count, self.sample_points = (
            page.view,
            page.sample_count,
            page.sample_points,
        )
        self.color_by_logp = page.color_by_logp
        self.slice_view, self.slice_resolution = self.slice_page.view, self.slice_page.resolution
        self.interp_view, self.traj_view = self.interpolation_page.view, self.trajectory_page.view
        self.recon_view = self.reconstruction_page.view

    @property
    def sampled(self) -> np.ndarray | None:
        """The clouds the Samples page shows (the live ones until a model is loaded)."""
        return self.samples_page.sampled

    # ------------------------------------------------------------------ data and live samples
    def shapes(self) -> np.ndarray | None:
        return None if self.data is None else self.data.data.points

    def show_data(self, info: DataInfo) -> None:
        points, names = info.data.points, info.data.names
        picks = self.preview_picks = preview_picks(len(points))
        shown = points[picks]
        self.preview.show_clouds(
            [thin(c) for c in shown],
            labels=[names[i] for i in picks] if len(shown) > 1 else None,
            reset_camera=True,
        )
        choices = [f"{i}: {n}" for i, n in enumerate(names[:SHAPE_CHOICES])]
        # the middle one: collections are often grouped by category
        middle = min(len(points), SHAPE_CHOICES) // 2 if len(points) > 1 else None
        self.interpolation_page.set_shapes(choices, middle)
        self.reconstruction_page.set_shapes(choices)
        self.arithmetic_page.set_shapes(choices)
        self.slice_page.set_shapes(choices)
        self.slice_page.fit_offset(points)
        self.show_first_tab()

    def show_live_samples(self, event: Any) -> None:
        if event.points is None:
            return
        self.live_points = np.asarray(event.points)
        self.live_view.show_clouds(
            [thin(c) for c in self.live_points],
            title=f"live samples · step {event.step:,} · T = {event.temperature:g}",
        )
        if self.model is None:  # until a model is loaded, the Samples tab shows the live ones
            self.samples_page.sampled, self.samples_page.logp = self.live_points, None

    def _preview_clicked(self, i: int) -> None:
        """A shape of the data preview clicked: a menu offers it to the analyses."""
        if self.data is None or i >= len(self.preview_picks):
            return
        self.shape_menu = self.shape_actions(int(self.preview_picks[i]))
        self.shape_menu.popup(QCursor.pos())

    def shape_actions(self, index: int) -> QMenu:
        """The menu of what shape ``index`` of the data can be used for."""
        name = f"{index}: {self.data.data.names[index]}"
        interpolation = self.interpolation_page
        menu = QMenu(self)
        menu.setObjectName("ShapeMenu")
        menu.addAction(f"Shape {name}").setEnabled(False)  # which shape was clicked
        menu.addSeparator()
        for text, combo, page in (
            ("Interpolate from this shape (A)", interpolation.shape_a, None),
            ("Interpolate to this shape (B)", interpolation.shape_b, interpolation),
            ("Reconstruct it", self.reconstruction_page.shape, self.reconstruction_page),
            ("Density slice conditioned on it", self.slice_page.shape, self.slice_page),
            ("Arithmetic on it", self.arithmetic_page.shape, self.arithmetic_page),
        ):
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, c=combo, p=page: self._use_shape(index, name, c, p))
        return menu

    def _use_shape(self, index: int, name: str, combo: Any, page: Any) -> None:
        """Put shape ``index`` in ``combo``; then show ``page`` and compute it (the first end
        of an interpolation stays on the preview, so the second can be clicked next)."""
        choose_shape(combo, index, name)
        if page is None:
            self.status.emit(f"Interpolation from {name}: click the shape to interpolate to")
            return
        refreshed_by_switch = self.tabs.currentWidget() is not page and page.stale()  # _refresh_current
        self.tabs.setCurrentWidget(page)
        if not refreshed_by_switch:
            page.refresh()

    # ------------------------------------------------------------------ analyses
    def model_ready(self) -> None:
        self.log(f"model ready for the analysis views ({self.model.model_name})")
        self.samples_page.resample()
        self._refresh_current(force=True)

    def _refresh_current(self, force: bool = False) -> None:
        page = self.tabs.currentWidget()
        if self.model is None or page is self.samples_page:
            return
        if page in (
            self.interpolation_page,
            self.slice_page,
            self.trajectory_page,
            self.reconstruction_page,
            self.arithmetic_page,
        ) and (force or page.stale()):
            page.refresh()

    def export_provenance(self) -> Any:
        page = self.samples_page
        if self.model is None or page.sampled is None or page.sampled is self.live_points:
            return None
        return of_model(self.model, page.sampled_temperature, page.sampled_seed)

    def persisted_sliders(self) -> dict[str, Any]:
        return {"samples_temperature": self.samples_page.temperature}

    # ------------------------------------------------------------------ export
    def export_samples(self, path: Path, chosen_filter: str = "") -> Path:
        """Write the samples shown (sampled, else the live ones) in the data's frame."""
        clouds = self.sampled if self.sampled is not None else self.live_points
        exported = self.kind_adapter.export(path, clouds, self.export_provenance())
        if exported.note:
            self.log(exported.note, exported.level)
        return exported.path
