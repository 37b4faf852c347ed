"""The point-cloud kind for the window: shape files in, PointFlow / CNF / discrete flows
trained, and the analyses the point-cloud pages draw (samples, interpolation, a density
slice with its plane geometry, the flow's trajectory, reconstructions, exports).

Every analysis takes the trained model (a ``RestoredTask``'s task) and returns numpy arrays
in the data's frame; the pages run them on a worker thread and only draw what comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.params import Param
from flowstudio.workbench import slices
from flowstudio.workbench.data import DataInfo, Exported, Sample
from flowstudio.workbench.kinds import DataKind
from flowstudio.workbench.provenance import Provenance, read_provenance

PREVIEW_SHAPES = 8
DISPLAY_POINTS = 2048
SLICE_OVERLAY_BAND = 0.04
"""Points within this fraction of the slice's width from the plane are drawn on it."""
TRAJECTORY_FRAMES = 24


def thin(cloud: np.ndarray, n: int = DISPLAY_POINTS, seed: int = 0) -> np.ndarray:
    """At most ``n`` points of a cloud, for drawing."""
    return cloud if len(cloud) <= n else cloud[decimation(len(cloud), n, seed)]


def decimation(n: int, budget: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``budget`` of ``n`` points, a fixed random subset: a big
    cloud drawn from it keeps its density everywhere (every k-th point would stripe a
    cloud stored in scan or category order)."""
    if n <= budget:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, budget, replace=False))


def preview_picks(n_shapes: int, k: int = PREVIEW_SHAPES) -> np.ndarray:
    """Indices of ``k`` shapes spread over a collection (often grouped by category)."""
    return np.unique(np.linspace(0, n_shapes - 1, min(k, n_shapes)).round().astype(int))


def has_latent(task: Any) -> bool:
    """Whether the model has a shape latent (PointFlow): interpolation and reconstruction need one."""
    return bool(getattr(task.model, "latent_dim", 0))


@dataclass(frozen=True)
class SliceImage:
    """A density slice ready to draw: ``log_p`` over the plane's (s, t) square, its extent
    ``(s0, s1, t0, t1)`` about the plane's centre, the reference points near the plane in
    (s, t), the data axes s and t run along, and a caption; the robust colour range and
    the log-density contours (level, (M, 2, 2) segments in (s, t)) of
    :mod:`~flowstudio.workbench.slices`, and the plane's four corners in the data frame
    (to draw the plane through the conditioning shape in 3-D)."""

    log_p: np.ndarray
    extent: tuple[float, float, float, float]
    overlay: np.ndarray | None
    axes: tuple[str, str]
    caption: str
    color_range: tuple[float, float] = (0.0, 1.0)
    contours: tuple[tuple[float, np.ndarray], ...] = ()
    corners: np.ndarray | None = None


def slice_image(
    coords: np.ndarray, log_p: np.ndarray, reference: np.ndarray | None, axis: str, offset: float
) -> SliceImage:
    """The plane of a density grid (``coords`` (R, R, 3), ``log_p`` (R, R)) as an image.

    The grid's edges give the plane's orthonormal axes u, v; each point of ``reference``
    within :data:`SLICE_OVERLAY_BAND` of the width from the plane is projected onto them."""
    origin = coords[0, 0]
    u, v = coords[-1, 0] - origin, coords[0, -1] - origin
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    u_hat, v_hat = u / nu, v / nv
    centre = coords[len(coords) // 2, len(coords) // 2]
    s0, t0 = float((origin - centre) @ u_hat), float((origin - centre) @ v_hat)
    band = SLICE_OVERLAY_BAND * nu
    overlay = None
    if reference is not None:
        near = np.abs((reference - centre) @ np.cross(u_hat, v_hat)) < band
        rel = reference[near] - centre
        overlay = np.column_stack([rel @ u_hat, rel @ v_hat])
    axes = tuple("xyz"[int(np.argmax(np.abs(d)))] for d in (u_hat, v_hat))
    caption = f"plane {axis} = {offset:.3f} · points within ±{band:.3f} overlaid"
    lo, hi = slices.robust_range(log_p)
    s = s0 + np.linspace(0.0, nu, len(coords))
    t = t0 + np.linspace(0.0, nv, log_p.shape[1])
    contours = tuple(
        (level, slices.contour_segments(log_p, s, t, level)) for level in slices.contour_levels(lo, hi)
    )
    corners = np.array([coords[0, 0], coords[-1, 0], coords[-1, -1], coords[0, -1]])
    extent = (s0, s0 + nu, t0, t0 + nv)
    return SliceImage(log_p.T, extent, overlay, axes, caption, (lo, hi), contours, corners)  # type: ignore[arg-type]


class PointsKind(DataKind):
    kind = "points"
    demo_run = "points-pointflow"

    # ------------------------------------------------------------------ engine
    def samples(self) -> list[Sample]:
        from flowstudio.pointclouds import samples

        return [Sample(s.path.stem, s.name, s.path, s.description) for s in samples.builtin_samples()]

    def io(self) -> Any:
        from flowstudio.pointclouds import io

        return io

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
        origin = read_provenance(path)
        if origin is not None:  # a file FlowStudio exported says where it came from
            rows.append(("From", origin.text()))
        report = collection.report
        return DataInfo(Path(path).name, Path(path), rows, report.reasons, report.count, collection)

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

    def objective_values(self, model: str, preset: str, objective: str) -> dict[str, Any]:
        from flowstudio.pointclouds import settings

        return settings.objective_values(model, preset, objective)

    def task_factory(
        self, data: DataInfo, model: str, preset: str, values: dict[str, Any]
    ) -> Callable[[], Any]:
        from flowstudio.pointclouds.task import PointCloudTask

        collection = data.data
        return lambda: PointCloudTask(collection, model, preset, values)

    # ------------------------------------------------------------------ analyses
    def sample(
        self,
        task: Any,
        shapes: int,
        points: int,
        temperature: float,
        with_logp: bool,
        seed: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``shapes`` clouds of ``points`` points (drawn with ``seed``: an export records
        it), and each point's log p when asked."""
        from flowstudio.pointclouds import analyses

        clouds = analyses.sample(task, shapes, points, temperature, seed=seed)
        logp = analyses.point_log_likelihood(task, clouds) if with_logp else None
        return clouds, logp

    def log_likelihood(self, task: Any, clouds: np.ndarray) -> np.ndarray:
        """Each point's log p under the model, for clouds already drawn (recolouring them)."""
        from flowstudio.pointclouds import analyses

        return analyses.point_log_likelihood(task, clouds)

    def interpolate(self, task: Any, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
        """Shapes decoded along the straight path between the latents of ``a`` and ``b``."""
        from flowstudio.pointclouds import analyses

        return analyses.interpolate(task, a, b, steps, DISPLAY_POINTS, seed=0)

    def density_slice(
        self,
        task: Any,
        axis: str,
        offset: float,
        resolution: int,
        shapes: np.ndarray | None,
        reference: np.ndarray | None,
    ) -> SliceImage:
        """log p on the plane ``axis = offset``, over a square that covers ``shapes`` with a
        margin (the engine's default square follows the normalization when there are none).

        ``reference`` is the conditioning shape: a model with a shape latent (PointFlow)
        is conditioned on its encoding, so the density and the points drawn on it belong
        to the same shape (a latent drawn from the prior would show some other shape)."""
        from flowstudio.pointclouds import analyses

        extent = 0.6 * float(np.ptp(shapes.reshape(-1, 3), axis=0).max()) if shapes is not None else None
        latent = analyses.encode(task, reference) if reference is not None and has_latent(task) else None
        coords, log_p = analyses.density_slice(task, axis, offset, resolution, extent=extent, latent=latent)
        return slice_image(coords, log_p, reference, axis, offset)

    def trajectory(self, task: Any) -> np.ndarray:
        """(frames, points, 3): one sample's points from the base noise to the shape."""
        from flowstudio.pointclouds import analyses

        return analyses.trajectory(task, DISPLAY_POINTS, TRAJECTORY_FRAMES, 1.0)

    def reconstruct(self, task: Any, shape: np.ndarray) -> np.ndarray:
        from flowstudio.pointclouds import analyses

        return analyses.reconstruct(task, shape, seed=0)

    def evaluate(
        self, task: Any, refs: np.ndarray, temperature: float, points: int, emd: bool, progress: Any
    ) -> Any:
        """MMD / COV / 1-NNA of as many clouds drawn at ``temperature`` as there are held-out
        ``refs``, both at ``points`` points (EMD too when ``emd``); ``progress`` (a
        :class:`~flowstudio.workbench.evaluation.ProgressBox`) follows it."""
        from flowstudio.pointclouds import analyses, metrics
        from flowstudio.workbench.evaluation import Evaluation, subsample

        progress.stage = f"drawing {len(refs)} shapes"
        clouds = analyses.sample(task, len(refs), points, temperature, seed=0)
        progress.stage = "comparing with the held-out shapes"
        scores = metrics.evaluate(
            clouds, subsample(refs, points), emd_points=points if emd else None, progress=progress
        )
        return Evaluation(scores, len(refs), temperature)

    # ------------------------------------------------------------------ export
    def export(self, path: Path, clouds: np.ndarray | None, provenance: Provenance | None = None) -> Exported:
        """Write ``clouds`` (in the data's frame) to ``path``; a format that holds one shape
        gets one numbered file per cloud; PLY files carry ``provenance`` as comments."""
        from flowstudio.pointclouds import io

        if clouds is None:
            raise BadInputError("no samples to export yet: train a model or open a checkpoint first")
        written = io.write_clouds(path, clouds, provenance.ply_comments() if provenance else ())
        if len(written) > 1:
            return Exported(
                written[0],
                f"{io.writer_for(path).name} holds one shape: wrote {len(written)} files, "
                f"{written[0].name} … {written[-1].name}",
            )
        return Exported(written[0])
