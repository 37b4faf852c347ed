"""The point-cloud workspace: shapes in, PointFlow / CNF / discrete flows trained, explored.

Views: the data preview, the live training chart and samples, samples at a temperature
(optionally colored by each point's log-likelihood), latent interpolation between two
shapes, a density slice, the flow's trajectory from noise to shape, and reconstructions.
Every model query runs on the job thread; the views only draw the arrays that come back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QWidget,
)

from flowstudio.gui.backend import DataInfo, Sample, load_trained
from flowstudio.gui.views_points import CloudView, DensitySliceView
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon, view_page
from flowstudio.gui.workspace import Workspace
from flowstudio.params import Param

if TYPE_CHECKING:
    from flowstudio.training.events import Samples
    from flowstudio.training.restore import RestoredTask

PREVIEW_SHAPES = 8
DISPLAY_POINTS = 2048
NO_MODEL = "Train a model (Train) or open a checkpoint (File > Open checkpoint…) to see this view."


def thin(cloud: np.ndarray, n: int = DISPLAY_POINTS, seed: int = 0) -> np.ndarray:
    """At most ``n`` points of a cloud, for drawing."""
    if len(cloud) <= n:
        return cloud
    return cloud[np.random.default_rng(seed).choice(len(cloud), n, replace=False)]


class PointsWorkspace(Workspace):
    kind = "points"
    title = "Point clouds"

    # ------------------------------------------------------------------ engine hooks
    def samples(self) -> list[Sample]:
        from flowstudio.pointclouds import samples

        return [Sample(s.path.stem, s.name, s.path, s.description) for s in samples.builtin_samples()]

    def open_filters(self) -> list[str]:
        from flowstudio.pointclouds import io

        return io.open_dialog_filters()

    def save_filters(self) -> list[str]:
        from flowstudio.pointclouds import io

        return io.save_dialog_filters()

    def read_data(self, path: Path) -> DataInfo:
        from flowstudio.pointclouds import io

        collection = io.load(path)
        points = collection.points
        n, p = points.shape[:2]
        lo, hi = points.reshape(-1, 3).min(axis=0), points.reshape(-1, 3).max(axis=0)
        rows = [("Shapes", f"{n:,}"), ("Points per shape", f"{p:,}")]
        if collection.split is not None:
            train = int((collection.split == "train").sum())
            rows.append(("Split", f"{train:,} train · {n - train:,} test"))
        rows.append(("Extent", " × ".join(f"{d:.3g}" for d in hi - lo)))
        rows.append(("Source", Path(collection.source or path).name))
        skipped = [f"{name}: {reason}" for name, reason in collection.skipped]
        return DataInfo(Path(path).name, Path(path), rows, skipped, len(collection.skipped), collection)

    def models(self) -> list[str]:
        from flowstudio.pointclouds import settings

        return list(settings.MODELS)

    def presets(self) -> list[str]:
        from flowstudio.pointclouds import settings

        return list(settings.PRESETS)

    def params_for(self, model: str) -> list[Param]:
        from flowstudio.pointclouds import settings

        return settings.hyperparameters(model)

    def preset_values(self, model: str, preset: str) -> dict[str, Any]:
        from flowstudio.pointclouds import settings

        return settings.preset_values(model, preset)

    def task_factory(self, data: DataInfo, model: str, preset: str, values: dict[str, Any]):
        from flowstudio.pointclouds.task import PointCloudTask

        collection = data.data
        return lambda: PointCloudTask(collection, model, preset, values)

    def load_model(self, checkpoint: Path) -> RestoredTask:
        return load_trained(checkpoint, self.kind)

    # ------------------------------------------------------------------ views
    def build_views(self, tabs: QTabWidget) -> None:
        self.preview = CloudView(self, "Open a point cloud or pick a built-in sample.")
        tabs.addTab(self.preview, "Data")

        self.training_tab = QSplitter(Qt.Orientation.Vertical, self)
        self.live_view = CloudView(self, "Live samples appear here every few seconds while training.")
        self.training_tab.addWidget(self.chart)
        self.training_tab.addWidget(self.live_view)
        self.training_tab.setSizes([300, 400])
        tabs.addTab(self.training_tab, "Training")

        tabs.addTab(self._build_samples_tab(), "Samples")
        tabs.addTab(self._build_interpolation_tab(), "Interpolation")
        tabs.addTab(self._build_slice_tab(), "Density slice")
        tabs.addTab(self._build_trajectory_tab(), "Trajectory")
        tabs.addTab(self._build_reconstruction_tab(), "Reconstruction")
        tabs.currentChanged.connect(lambda _: self._refresh_current())
        self.sampled: np.ndarray | None = None
        self.live_points: np.ndarray | None = None

    def _build_samples_tab(self) -> QWidget:
        self.sample_count = QSpinBox(self)
        self.sample_count.setRange(1, 32)
        self.sample_count.setValue(6)
        self.sample_count.setPrefix("shapes ")
        self.sample_count.setToolTip("How many clouds to sample")
        self.sample_points = QSpinBox(self)
        self.sample_points.setRange(64, 20000)
        self.sample_points.setSingleStep(256)
        self.sample_points.setValue(2048)
        self.sample_points.setPrefix("points ")
        self.sample_points.setToolTip("Points per sampled cloud")
        self.temperature = LabeledSlider(
            "Temperature",
            0.0,
            1.5,
            1.0,
            150,
            tooltip=(
                "Scales the base noise: below 1 gives cleaner, more typical shapes; above 1 more varied ones"
            ),
        )
        self.color_by_logp = QCheckBox("Color by log p(x)", self)
        self.color_by_logp.setToolTip("Color each point by its log-likelihood under the model")
        self.resample_button = QPushButton(icon("dice"), "Resample", self)
        self.resample_button.setToolTip("Draw new samples")
        self.samples_view = CloudView(self, NO_MODEL)
        self.resample_button.clicked.connect(self.resample)
        self.temperature.released.connect(lambda _: self.resample())
        self.color_by_logp.toggled.connect(lambda _: self.resample())
        return view_page(
            self,
            controls_row(
                self.sample_count,
                self.sample_points,
                self.temperature,
                self.color_by_logp,
                self.resample_button,
            ),
            self.samples_view,
        )

    def _build_interpolation_tab(self) -> QWidget:
        self.shape_a = QComboBox(self)
        self.shape_b = QComboBox(self)
        for combo, tip in ((self.shape_a, "First shape"), (self.shape_b, "Second shape")):
            combo.setToolTip(tip)
            combo.setMinimumWidth(140)
        self.interp_steps = QSpinBox(self)
        self.interp_steps.setRange(2, 24)
        self.interp_steps.setValue(8)
        self.interp_steps.setPrefix("steps ")
        self.interp_button = QPushButton("Interpolate", self)
        self.interp_button.setToolTip("Decode shapes along the straight path between the two shape latents")
        self.interp_slider = LabeledSlider("t", 0.0, 1.0, 0.5, 100)
        self.interp_slider.setToolTip("Where along the path: 0 is the first shape, 1 the second")
        self.interp_strip = QCheckBox("Whole strip", self)
        self.interp_strip.setToolTip(
            "Show every step side by side; moving t shows one step between the two ends"
        )
        self.interp_strip.setChecked(True)
        self.interp_view = CloudView(
            self, "Interpolation needs a PointFlow model (it has a shape latent).\n" + NO_MODEL
        )
        self.interp_button.clicked.connect(self.interpolate)
        self.interp_slider.value_changed.connect(lambda _: self._interpolation_moved())
        self.interp_strip.toggled.connect(lambda _: self._draw_interpolation())
        self.interpolation: np.ndarray | None = None
        return view_page(
            self,
            controls_row(
                QLabel("From"),
                self.shape_a,
                QLabel("to"),
                self.shape_b,
                self.interp_steps,
                self.interp_button,
                self.interp_strip,
                self.interp_slider,
            ),
            self.interp_view,
        )

    def _build_slice_tab(self) -> QWidget:
        self.slice_axis = QComboBox(self)
        self.slice_axis.addItems(["x", "y", "z"])
        self.slice_axis.setCurrentText("z")
        self.slice_axis.setToolTip("The plane's normal axis")
        self.slice_offset = LabeledSlider(
            "Offset", -1.0, 1.0, 0.0, 200, tooltip="Where the plane cuts the axis"
        )
        self.slice_resolution = QSpinBox(self)
        self.slice_resolution.setRange(16, 256)
        self.slice_resolution.setValue(96)
        self.slice_resolution.setPrefix("grid ")
        self.slice_view = DensitySliceView(self)
        self.slice_view.placeholder = NO_MODEL
        self.slice_axis.currentIndexChanged.connect(lambda _: self._slice_axis_changed())
        self.slice_offset.released.connect(lambda _: self.compute_slice())
        self.slice_offset.slider.valueChanged.connect(lambda _: self._slice_timer.start())
        self.slice_resolution.valueChanged.connect(lambda _: self.compute_slice())
        self._slice_timer = QTimer(self)
        self._slice_timer.setSingleShot(True)
        self._slice_timer.setInterval(120)
        self._slice_timer.timeout.connect(self.compute_slice)
        return view_page(
            self,
            controls_row(QLabel("Normal"), self.slice_axis, self.slice_offset, self.slice_resolution),
            self.slice_view,
        )

    def _build_trajectory_tab(self) -> QWidget:
        self.traj_time = LabeledSlider("Time", 0.0, 1.0, 1.0, 100, tooltip="0: base noise, 1: the sample")
        self.traj_play = QPushButton(icon("play"), "Play", self)
        self.traj_play.setCheckable(True)
        self.traj_play.setToolTip("Animate the flow from noise to shape")
        self.traj_button = QPushButton(icon("dice"), "New trajectory", self)
        self.traj_view = CloudView(self, NO_MODEL)
        self.trajectory: np.ndarray | None = None
        self._traj_timer = QTimer(self)
        self._traj_timer.setInterval(80)
        self._traj_timer.timeout.connect(self._advance_trajectory)
        self.traj_play.toggled.connect(lambda on: self._traj_timer.start() if on else self._traj_timer.stop())
        self.traj_time.value_changed.connect(lambda _: self._draw_trajectory())
        self.traj_button.clicked.connect(self.compute_trajectory)
        return view_page(self, controls_row(self.traj_time, self.traj_play, self.traj_button), self.traj_view)

    def _build_reconstruction_tab(self) -> QWidget:
        self.recon_shape = QComboBox(self)
        self.recon_shape.setMinimumWidth(160)
        self.recon_shape.setToolTip("The input shape to encode and decode")
        self.recon_button = QPushButton("Reconstruct", self)
        self.recon_view = CloudView(self, "Reconstruction needs a PointFlow model.\n" + NO_MODEL)
        self.recon_button.clicked.connect(self.reconstruct)
        return view_page(
            self, controls_row(QLabel("Shape"), self.recon_shape, self.recon_button), self.recon_view
        )

    # ------------------------------------------------------------------ data and live samples
    def shapes(self) -> np.ndarray | None:
        return None if self.data is None else self.data.data.points

    def show_data(self, info: DataInfo) -> None:
        points = info.data.points
        # spread over the collection: its shapes are often grouped by category
        picks = np.unique(
            np.linspace(0, len(points) - 1, min(PREVIEW_SHAPES, len(points))).round().astype(int)
        )
        shown = points[picks]
        names = [info.data.names[i] for i in picks]
        self.preview.show_clouds(
            [thin(c) for c in shown], labels=names if len(shown) > 1 else None, reset_camera=True
        )
        for combo in (self.shape_a, self.shape_b, self.recon_shape):
            combo.clear()
            combo.addItems([f"{i}: {n}" for i, n in enumerate(info.data.names[:500])])
        if len(points) > 1:  # the middle one: collections are often grouped by category
            self.shape_b.setCurrentIndex(min(len(points), 500) // 2)
        lo, hi = float(points.min()), float(points.max())
        self.slice_offset.set_range(lo, hi)
        self.slice_offset.set_value((lo + hi) / 2)
        if not self.training:
            self.tabs.setCurrentWidget(self.preview)

    def show_live_samples(self, event: Samples) -> None:
        if event.points is None:
            return
        self.live_points = np.asarray(event.points)
        self.live_view.show_clouds(
            [thin(c) for c in self.live_points],
            title=f"live samples · step {event.step:,} · T = {event.temperature:g}",
        )
        if self.model is None:  # until a model is loaded, the Samples tab shows the live ones
            self.sampled = self.live_points

    # ------------------------------------------------------------------ analyses
    def model_ready(self) -> None:
        self.log(f"model ready for the analysis views ({self.model.model_name})")
        self.resample()
        self._refresh_current(force=True)

    def _refresh_current(self, force: bool = False) -> None:
        if self.model is None:
            return
        page = self.tabs.currentWidget()
        if page is self.slice_view.parentWidget() and (force or self.slice_view._image is None):
            self.compute_slice()
        elif page is self.traj_view.parentWidget() and (force or self.trajectory is None):
            self.compute_trajectory()
        elif page is self.recon_view.parentWidget() and (force or self.recon_view.draw_count == 0):
            self.reconstruct()
        elif page is self.interp_view.parentWidget() and (force or self.interpolation is None):
            self.interpolate()

    def _has_latent(self) -> bool:
        return bool(getattr(self.model.task.model, "latent_dim", 0))

    def resample(self) -> None:
        if self.model is None:
            return
        from flowstudio.pointclouds import analyses

        model, k, p = self.model.task, self.sample_count.value(), self.sample_points.value()
        temperature, with_logp = self.temperature.value(), self.color_by_logp.isChecked()

        def work():
            clouds = analyses.sample(model, k, p, temperature)
            logp = analyses.point_log_likelihood(model, clouds) if with_logp else None
            return clouds, logp

        def done(result):
            clouds, logp = result
            self.sampled = clouds
            self.samples_view.show_clouds(
                list(clouds),
                scalars=None if logp is None else list(logp),
                scalar_title="log p(x)",
                cmap="plasma" if logp is not None else None,
                title=f"{len(clouds)} samples · T = {temperature:.2f}"
                + (" · colored by log p(x)" if logp is not None else ""),
            )

        self.jobs.submit("samples", work, done)

    def interpolate(self) -> None:
        shapes = self.shapes()
        if self.model is None or shapes is None:
            return
        if not self._has_latent():
            self.interp_view.set_placeholder(
                "Interpolation needs a PointFlow model: this model "
                f"({self.model.model_name}) learns a single shape."
            )
            return
        from flowstudio.pointclouds import analyses

        a, b = shapes[max(0, self.shape_a.currentIndex())], shapes[max(0, self.shape_b.currentIndex())]
        model, steps = self.model.task, self.interp_steps.value()

        def done(frames: np.ndarray) -> None:
            self.interpolation = frames
            self._draw_interpolation()

        self.jobs.submit(
            "interpolate", lambda: analyses.interpolate(model, a, b, steps, DISPLAY_POINTS, seed=0), done
        )

    def _interpolation_moved(self) -> None:
        if self.interp_strip.isChecked():
            self.interp_strip.setChecked(False)  # redraws as A, the shape at t, B
        else:
            self._draw_interpolation()

    def _draw_interpolation(self) -> None:
        frames = self.interpolation
        if frames is None:
            return
        if self.interp_strip.isChecked():
            n = len(frames)
            self.interp_view.show_clouds(
                list(frames), labels=[f"t={i / (n - 1):.2f}" for i in range(n)], columns=n
            )
        else:
            i = round(self.interp_slider.value() * (len(frames) - 1))
            self.interp_view.show_clouds(
                [frames[0], frames[i], frames[-1]],
                labels=["A", f"t={i / (len(frames) - 1):.2f}", "B"],
                columns=3,
            )

    def _slice_axis_changed(self) -> None:
        shapes = self.shapes()
        if shapes is not None:
            axis = "xyz".index(self.slice_axis.currentText())
            lo, hi = float(shapes[..., axis].min()), float(shapes[..., axis].max())
            self.slice_offset.set_range(lo, hi)
            self.slice_offset.set_value((lo + hi) / 2)
        self.compute_slice()

    def compute_slice(self) -> None:
        if self.model is None:
            return
        from flowstudio.pointclouds import analyses

        model, axis = self.model.task, self.slice_axis.currentText()
        offset, resolution = self.slice_offset.value(), self.slice_resolution.value()
        shapes = self.shapes()
        reference = (
            self.sampled[0] if self.sampled is not None else (shapes[0] if shapes is not None else None)
        )
        # the square covers the data with a margin (the engine's default follows the normalization)
        extent = 0.6 * float(np.ptp(shapes.reshape(-1, 3), axis=0).max()) if shapes is not None else None

        def work():
            coords, log_p = analyses.density_slice(model, axis, offset, resolution, extent=extent)
            return coords, log_p

        def done(result) -> None:
            coords, log_p = result
            origin = coords[0, 0]
            u = coords[-1, 0] - origin
            v = coords[0, -1] - origin
            nu, nv = np.linalg.norm(u), np.linalg.norm(v)
            u_hat, v_hat = u / nu, v / nv
            centre = coords[len(coords) // 2, len(coords) // 2]
            s0 = float((origin - centre) @ u_hat)
            t0 = float((origin - centre) @ v_hat)
            overlay = None
            if reference is not None:
                normal = np.cross(u_hat, v_hat)
                near = np.abs((reference - centre) @ normal) < 0.04 * nu
                rel = reference[near] - centre
                overlay = np.column_stack([rel @ u_hat, rel @ v_hat])
            names = "xyz"
            axes = tuple(names[int(np.argmax(np.abs(d)))] for d in (u_hat, v_hat))
            self.slice_view.set_slice(
                log_p.T,
                (s0, s0 + nu, t0, t0 + nv),
                overlay,
                axes,
                f"plane {axis} = {offset:.3f} · points within ±{0.04 * nu:.3f} overlaid",
            )

        self.jobs.submit("slice", work, done)

    def compute_trajectory(self) -> None:
        if self.model is None:
            return
        from flowstudio.pointclouds import analyses

        model = self.model.task

        def done(frames: np.ndarray) -> None:
            self.trajectory = frames
            self._draw_trajectory(reset=True)

        self.jobs.submit("trajectory", lambda: analyses.trajectory(model, DISPLAY_POINTS, 24, 1.0), done)

    def _draw_trajectory(self, reset: bool = False) -> None:
        frames = self.trajectory
        if frames is None:
            return
        i = round(self.traj_time.value() * (len(frames) - 1))
        # color each point by where it ends up, so one can follow it along the flow
        self.traj_view.show_clouds(
            [frames[i]],
            scalars=[frames[-1][:, 1]],
            scalar_title="final height",
            labels=[f"t = {i / (len(frames) - 1):.2f}"],
            reset_camera=reset,
        )

    def _advance_trajectory(self) -> None:
        value = self.traj_time.value() + 1 / 23
        self.traj_time.set_value(0.0 if value > 1.0001 else value)

    def reconstruct(self) -> None:
        shapes = self.shapes()
        if self.model is None or shapes is None:
            return
        if not self._has_latent():
            self.recon_view.set_placeholder(
                "Reconstruction needs a PointFlow model: this model "
                f"({self.model.model_name}) has no encoder."
            )
            return
        from flowstudio.pointclouds import analyses

        shape = thin(shapes[max(0, self.recon_shape.currentIndex())])
        model = self.model.task

        def done(recon: np.ndarray) -> None:
            self.recon_view.show_clouds([shape, recon], labels=["input", "reconstruction"], columns=2)

        self.jobs.submit("reconstruct", lambda: analyses.reconstruct(model, shape, seed=0), done)

    # ------------------------------------------------------------------ export
    def export_samples(self, path: Path) -> Path:
        """Write the samples shown (sampled, else the live ones) in the data's frame."""
        from flowstudio.pointclouds import io

        clouds = self.sampled if self.sampled is not None else self.live_points
        if clouds is None:
            from flowstudio.errors import BadInputError

            raise BadInputError("no samples to export yet: train a model or open a checkpoint first")
        writer = io.writer_for(path)
        if len(clouds) > 1 and not writer.collections:
            written = io.write_shapes(path.parent, clouds, path.suffix, path.stem)
            self.log(
                f"{writer.name} holds one shape: wrote {len(written)} files, {written[0].name} … "
                f"{written[-1].name}"
            )
            return written[0]
        return io.write_points(path, clouds)
