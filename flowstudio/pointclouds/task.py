"""The point-cloud engine's :class:`~flowstudio.training.protocol.Task`.

:class:`PointCloudTask` owns a model (PointFlow over a collection of shapes, or a
single-shape density: a CNF or a discrete flow), its data in the model's frame and the
loss; the training engine does the rest. Its :meth:`~PointCloudTask.config` is JSON and
rebuilds the task with :meth:`~PointCloudTask.from_config` (to resume a run or open a
checkpoint): it records every hyperparameter, the data's path and the normalization, so
that samples come back in the data's own frame even when the data is not at hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.flows.cnf import ODESolverError
from flowstudio.flows.cnf_control import ACCURATE, count_nfe, reset_nfe, solver_override
from flowstudio.flows.matching import MatchingSettings
from flowstudio.flows.odesolve import FIXED_STEP_SOLVERS
from flowstudio.inputs import SkipReport
from flowstudio.params import config_from
from flowstudio.pointclouds.datasets import Normalization, PointCloudDataset
from flowstudio.pointclouds.io import ShapeCollection, load
from flowstudio.pointclouds.models import DiscreteFlowSettings, PointDensity, SingleShapeModel
from flowstudio.pointclouds.pointflow import PointFlow, cnf_settings, pointflow_config
from flowstudio.pointclouds.prior_refinement import PriorRefinement
from flowstudio.pointclouds.reflow import REFLOW_LR_FACTOR, Reflow
from flowstudio.pointclouds.schema import CNF_MODELS
from flowstudio.pointclouds.settings import check_model, read_by, resolve
from flowstudio.task_types import FinalStage, Snapshot

MAX_VALIDATION_POINTS = 4096
"""Held-out points of a single shape scored at each validation (a fixed subset)."""
VALIDATION_MAX_NFE = 2000
"""Evaluations one accurate validation solve may take before the model scores +inf."""


class PointCloudTask:
    """A point-cloud model with its data, trainable by :func:`flowstudio.training.engine.train`.

    Args:
        data: a path (a collection or one shape), a :class:`ShapeCollection`, an array
            (N, P, 3) or (P, 3), or ``None`` when rebuilt from a config (the data is then
            read from the recorded path when training needs it).
        model_name: ``pointflow`` or a single-shape model (``cnf``, ``realnvp``, ``glow``,
            ``maf``, ``nsf``, ``nsf_ar``, ``nice``, ``planar``).
        preset: ``quick`` or ``full`` (see :mod:`flowstudio.pointclouds.settings`).
        overrides: hyperparameter values over the preset's, checked by their ``Param``.
    """

    kind = "points"

    def __init__(
        self,
        data: str | Path | ShapeCollection | np.ndarray | None,
        model_name: str = "pointflow",
        preset: str = "quick",
        overrides: dict[str, Any] | None = None,
        *,
        normalization: Normalization | None = None,
    ) -> None:
        self.model_name = check_model(model_name)
        self.preset = preset
        self.values = resolve(model_name, preset, overrides)
        self.data_path = str(Path(data).resolve()) if isinstance(data, str | Path) else None
        self.normalization = normalization
        self._data: PointCloudDataset | None = None
        self._shape: tuple[Tensor, Tensor] | None = None  # single shape: (train, test) points
        self._device = torch.device("cpu")
        self.skipped: list[tuple[str, str]] = []  # (shape, reason) the data reader left out
        self.data_report = SkipReport()  # the same as a count and first reasons, for the run's config
        if data is not None:
            self._load(data)
        if self.normalization is None:
            raise BadInputError("a point-cloud task needs data or a recorded normalization")
        # The initial weights are a function of the seed alone: the task is built before
        # the engine seeds the generators, and a run must be repeatable.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.values["seed"])
            self.model: PointDensity = self._build_model()

    # ---- construction ----------------------------------------------------------------

    @property
    def single_shape(self) -> bool:
        return self.model_name != "pointflow"

    def _load(self, data: str | Path | ShapeCollection | np.ndarray) -> None:
        v = self.values
        if isinstance(data, str | Path):
            data = load(data, n_points=v["points_per_shape"], seed=v["seed"])
        if isinstance(data, ShapeCollection):
            self.skipped = list(data.skipped)
            self.data_report = data.report
        if self.single_shape:
            self._load_shape(data)
        else:
            self._data = PointCloudDataset(
                data,
                test_fraction=v["test_fraction"],
                seed=v["seed"],
                normalization=self.normalization or v["normalization"],
            ).to(self._device)
            self.normalization = self._data.normalization

    def _load_shape(self, data: ShapeCollection | np.ndarray) -> None:
        """Pick the shape, normalize it as a whole, then hold out a share of its points."""
        points = data.points if isinstance(data, ShapeCollection) else np.asarray(data, np.float32)
        points = points[None] if points.ndim == 2 else points
        index = self.values["shape_index"]
        if not 0 <= index < len(points):
            raise BadInputError(f"shape_index {index} is out of range: the data holds {len(points)} shapes")
        shape = points[index]
        if self.normalization is None:
            self.normalization = Normalization.fit(shape, self.values["normalization"])
        scaled = torch.as_tensor(self._to_model(shape), dtype=torch.float32)
        order = torch.randperm(len(scaled), generator=torch.Generator().manual_seed(self.values["seed"]))
        n_test = max(1, round(len(scaled) * self.values["test_fraction"]))
        if len(scaled) - n_test < 2:
            raise BadInputError(f"the shape has {len(scaled)} points: too few to train on")
        self._shape = (scaled[order[n_test:]].to(self._device), scaled[order[:n_test]].to(self._device))

    def _ensure_data(self) -> None:
        if self._data is None and self._shape is None:
            if self.data_path is None:
                raise BadInputError("this task was opened without its data; give the data to train it")
            self._load(self.data_path)

    def _build_model(self) -> PointDensity:
        """The model from the settings it reads (``read_by``: as the schema declares)."""
        v = read_by(self.model_name, self.values)
        try:
            if self.model_name == "pointflow":
                if v["reflow_s"] > 0 and v["objective"] != "flow_matching":
                    raise BadInputError("reflow_s needs objective=flow_matching: reflow refits a "
                                        "flow-matching point CNF")
                if v["prior_every"] > 1 and v["objective"] != "flow_matching":
                    raise BadInputError("prior_every needs objective=flow_matching: the likelihood "
                                        "objective solves the latent CNF with the point CNF every step")
                return PointFlow(pointflow_config(v))
            if self.model_name == "cnf":
                matching = config_from(MatchingSettings, v) if v["objective"] == "flow_matching" else None
                return SingleShapeModel("cnf", matching, **cnf_settings(v).cnf_options())
            return SingleShapeModel(self.model_name, **config_from(DiscreteFlowSettings, v).flow_options())
        except ValueError as exc:  # an option the flow library refuses
            if isinstance(exc, BadInputError):
                raise
            raise BadInputError(f"cannot build {self.model_name}: {exc}") from None

    # ---- config ---------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        assert self.normalization is not None
        return {
            "model_name": self.model_name,
            "preset": self.preset,
            "values": dict(self.values),
            "normalization": self.normalization.to_dict(),
            "data_path": self.data_path,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], data: Any = None) -> PointCloudTask:
        """Rebuild a task from :meth:`config` (a checkpoint's or a run's ``config.json``).

        The data is read from ``data`` when given, else from the recorded path when training
        needs it; sampling and the analyses never need it.
        """
        try:
            model_name, preset = str(config["model_name"]), str(config.get("preset", "quick"))
            values, norm = dict(config["values"]), Normalization.from_dict(config["normalization"])
            # Runs from before the objective existed were trained by likelihood, whatever the
            # preset says today.
            values.setdefault("objective", "likelihood")
            if model_name == "pointflow":  # and drew their latents and points at the base spread
                values.setdefault("latent_temperature", 1.0)
                values.setdefault("point_temperature", 1.0)
                values.setdefault("prior_every", 1)  # and fitted the latent CNF every step
                values.setdefault("point_steps", 0)  # and solved both CNFs in `steps` steps
            if model_name in CNF_MODELS:  # and spaced the point CNF's steps evenly
                values.setdefault("point_step_power", 1.0)
        except (KeyError, TypeError, AttributeError):
            raise BadInputError(
                "not a point-cloud task config (missing model_name, values or normalization)"
            ) from None
        task = cls(data, model_name, preset, values, normalization=norm)
        if data is None:
            task.data_path = config.get("data_path")
        return task

    # ---- frames ---------------------------------------------------------------------

    def _to_model(self, points: np.ndarray) -> np.ndarray:
        """The fixed affine data -> model map (for ``shape`` mode, the training average)."""
        norm = self.normalization
        assert norm is not None
        if norm.mode == "none":
            return np.asarray(points, dtype=np.float32)
        return ((np.asarray(points) - np.asarray(norm.center)) / norm.scale).astype(np.float32)

    def to_model_frame(self, points: np.ndarray) -> np.ndarray:
        """Points in the data's frame -> the model's frame (an affine map, the inverse of
        :meth:`to_data_frame`)."""
        return self._to_model(points)

    def to_data_frame(self, points: np.ndarray) -> np.ndarray:
        """Points in the model's frame -> the data's frame."""
        assert self.normalization is not None
        return np.asarray(self.normalization.invert(np.asarray(points, dtype=np.float32)), dtype=np.float32)

    # ---- the Task protocol ----------------------------------------------------------

    def to(self, device: torch.device) -> None:
        self._device = torch.device(device)
        self.model.to(self._device)
        if self._data is not None:
            self._data.to(self._device)
        if self._shape is not None:
            self._shape = (self._shape[0].to(self._device), self._shape[1].to(self._device))

    def _batch(self) -> Tensor:
        v = self.values
        self._ensure_data()
        if self._data is not None:
            return self._data.sample_batch(v["batch_size"], v["train_points"])
        train = self._shape[0]  # type: ignore[index]
        index = torch.randint(len(train), (v["batch_size"], v["train_points"]), device=train.device)
        return train[index]

    def training_step(self, step: int) -> dict[str, Tensor]:
        reset_nfe(self.model)
        return self.model.loss_terms(self._batch(), step)

    def nfe(self) -> tuple[float | None, float | None]:
        if self.model_name in ("pointflow", "cnf"):
            forward, backward = count_nfe(self.model)
            return float(forward), float(backward)
        return None, None

    @torch.no_grad()
    def validation_metric(self) -> float:
        """Held-out negative log-likelihood per point, in nats (lower is better).

        Single shape: -log p(x) averaged over held-out points of the shape. PointFlow: the
        negative ELBO of each held-out shape divided by its number of points (an upper
        bound on -log p(X) / N), with a fixed draw of the latent noise.

        CNFs trained with a fixed-step solver are scored with the accurate adaptive solve
        (:data:`~flowstudio.flows.cnf_control.ACCURATE`), so the best checkpoint is the best
        continuous model and a model that exploits its coarse training solver is seen;
        a solve that fails there scores +inf (never the best).
        """
        if self.model_name in CNF_MODELS and self.values["solver"] in FIXED_STEP_SOLVERS:
            try:
                with solver_override(self.model, max_nfe=VALIDATION_MAX_NFE, **ACCURATE):
                    return self._held_out_nll()
            except ODESolverError:
                return math.inf
        return self._held_out_nll()

    @torch.no_grad()
    def _held_out_nll(self) -> float:
        v = self.values
        held_out = self.held_out()
        cuda = [self._device.index or 0] if self._device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(0)
            if self.single_shape:
                return float(-self.model.point_log_prob(held_out[None, :MAX_VALIDATION_POINTS]).mean())
            assert isinstance(self.model, PointFlow)
            batch = held_out[: v["val_shapes"]]
            keep = torch.randperm(batch.shape[1], device=batch.device)[: v["train_points"]]
            return float(self.model.negative_elbo(batch[:, keep]).mean() / len(keep))

    def held_out(self) -> Tensor:
        """Held-out data in the model's frame: PointFlow's test shapes (N, P, 3), or its
        training shapes when it has none; a single shape's held-out points (P_test, 3)."""
        self._ensure_data()
        if self._shape is not None:
            return self._shape[1]
        assert self._data is not None
        return self._data.test if len(self._data.test) else self._data.train

    def snapshot(self, n: int, temperature: float = 1.0) -> Snapshot:
        """n clouds of ``snapshot_points`` points, (n, P, 3) float32 in the data's frame."""
        with torch.no_grad():
            x = self.model.sample_points(n, self.values["snapshot_points"], temperature)
        return Snapshot.of_points(self.to_data_frame(x.cpu().numpy()), temperature)

    def extra_state(self) -> dict[str, Tensor]:
        return {}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        """Nothing beyond the weights: data order comes from the engine's generators."""

    def final_stages(self) -> list[FinalStage]:
        """PointFlow's last stages: reflow of the point CNF for ``reflow_s`` seconds
        (:mod:`flowstudio.pointclouds.reflow`), then the latent prior alone fitted, for
        ``prior_refine_s`` seconds, to the posteriors q(z | X) the final encoder gives every
        training shape (:mod:`flowstudio.pointclouds.prior_refinement`). Each is off at 0 s;
        none for other models."""
        v = self.values
        if not isinstance(self.model, PointFlow):
            return []
        stages: list[FinalStage] = []
        if v["reflow_s"] > 0 or (v["prior_refine_s"] > 0 and v["prior_flow"]):
            self._ensure_data()
            assert self._data is not None
            train = self._data.train
        if v["reflow_s"] > 0:
            stages.append(Reflow(self.model, train, float(v["reflow_s"]), v["lr"] * REFLOW_LR_FACTOR,
                                 batch=v["batch_size"], batch_points=v["train_points"]))
        if v["prior_refine_s"] > 0 and v["prior_flow"]:
            stages.append(PriorRefinement(self.model, train, float(v["prior_refine_s"]), v["lr"]))
        return stages

    # ---- for the window and the CLI ---------------------------------------------------

    @property
    def dataset(self) -> PointCloudDataset | None:
        """PointFlow's shapes (None for single-shape models)."""
        self._ensure_data()
        return self._data
