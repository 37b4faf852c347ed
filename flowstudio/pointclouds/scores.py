"""Likelihood scores of whole shapes: rank a collection by how well a model explains it.

Every score is a number per shape, in nats, oriented so that higher means "more like the
training data" (see :mod:`flowstudio.flows.scoring` for why a likelihood alone can mislead:
Nalisnick et al. 2019):

``mean_point_ll``
    the mean of log p(x_i) over the shape's points, in the data's frame. PointFlow scores
    the points under the shape's own latent (the mean of q(z | X)), so this measures how
    well the decoder reconstructs the shape's point density.
``shape_ll_per_point``
    the log-likelihood of the whole shape, per point: PointFlow's evidence lower bound
    ELBO(X) / N = (E_q[sum_i log p(x_i | z)] + E_q[log p(z)] + H[q(z | X)]) / N (Yang et al.
    2019, eq. 6; one seeded draw of z), which also charges the shape latent's prior cost;
    a single-shape model's exact log-likelihood sum_i log p(x_i) / N (its points are i.i.d.).
``latent_ll``
    PointFlow only: log p(z) of the shape's latent (the mean of q(z | X)) under the learned
    prior, per latent dimension: how usual the shape is as a whole, independent of how
    many points it has or how finely they are reconstructed.
``typicality``
    ``mean_point_ll`` turned into a typicality test (Nalisnick et al. 2019b): minus its
    distance from the typical value of the model's own samples, in their standard
    deviations; a shape explained *too* well is flagged as much as one explained badly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows.scoring import typicality
from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.analyses import _evaluating, _Frame

SCORES: dict[str, str] = {
    "mean_point_ll": "mean log p(x) of the shape's points (nats, data frame)",
    "shape_ll_per_point": "log-likelihood of the whole shape per point: PointFlow's ELBO, a "
    "single-shape model's exact value (nats)",
    "latent_ll": "PointFlow: log p(z) of the shape's latent under the prior, per latent dimension",
    "typicality": "minus the distance of mean_point_ll from its typical value on the model's own "
    "samples, in their standard deviations (Nalisnick et al. 2019)",
}
"""The score columns in order, each with what it measures."""

REFERENCE_SHAPES = 16
"""Model samples whose ``mean_point_ll`` define the typical value of the typicality test."""
CHUNK_SHAPES = 8
"""Shapes scored together (bounds the solver's memory)."""


@dataclass
class ShapeScores:
    """Scores of a collection: ``columns[score]`` is (N,), ``point_ll`` (N, P) the
    log-likelihood of every point (data frame)."""

    names: list[str]
    points: int
    columns: dict[str, np.ndarray]
    point_ll: np.ndarray
    reference: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def rows(self) -> list[dict[str, object]]:
        """One dict per shape: ``name``, ``points`` and every score (None where undefined)."""
        out = []
        for i, name in enumerate(self.names):
            row: dict[str, object] = {"name": name, "points": self.points}
            for score, values in self.columns.items():
                value = float(values[i])
                row[score] = value if np.isfinite(value) else None
            out.append(row)
        return out

    def ranking(self, score: str) -> np.ndarray:
        """Shape indices from the most anomalous (lowest ``score``) to the most typical."""
        if score not in self.columns:
            raise BadInputError(f"unknown score {score!r}; choose one of {', '.join(self.columns)}")
        values = np.where(np.isfinite(self.columns[score]), self.columns[score], -np.inf)
        return np.argsort(values, kind="stable")


def reference_scores(task: object, points: int, shapes: int = REFERENCE_SHAPES, seed: int = 0) -> np.ndarray:
    """``mean_point_ll`` of ``shapes`` samples of the model itself: the reference of the
    typicality test (the model's typical set, which needs no training data at hand)."""
    samples = analyses.sample(task, shapes, points, seed=seed)
    return _point_ll(task, samples).mean(axis=1)


def score_shapes(
    task: object,
    shapes: np.ndarray,
    names: list[str] | None = None,
    *,
    reference: np.ndarray | None = None,
    seed: int = 0,
) -> ShapeScores:
    """Every score of each shape of a (N, P, 3) batch given in the data's frame.

    ``reference``: ``mean_point_ll`` of typical shapes (default :func:`reference_scores`,
    computed here). Solve CNFs accurately by wrapping the call in
    :func:`~flowstudio.pointclouds.analyses.point_solver`.
    """
    shapes = np.asarray(shapes, dtype=np.float32)
    if shapes.ndim != 3 or shapes.shape[-1] != 3 or len(shapes) == 0 or shapes.shape[1] == 0:
        raise BadInputError(f"shapes must be a non-empty (N, P, 3) array, got shape {shapes.shape}")
    if not np.isfinite(shapes).all():
        raise BadInputError("shapes hold non-finite coordinates")
    names = list(names) if names is not None else [f"shape_{i:03d}" for i in range(len(shapes))]
    if len(names) != len(shapes):
        raise BadInputError(f"{len(names)} names for {len(shapes)} shapes")
    frame = _Frame(task)
    point_ll = _point_ll(task, shapes)
    mean_ll = point_ll.mean(axis=1)
    if frame.model.latent_dim:
        shape_ll, latent_ll = _pointflow_scores(frame, shapes, seed)
    else:
        shape_ll, latent_ll = mean_ll.copy(), np.full(len(shapes), np.nan)
    if reference is None:
        reference = reference_scores(task, shapes.shape[1], seed=seed)
    columns = {
        "mean_point_ll": mean_ll,
        "shape_ll_per_point": shape_ll,
        "latent_ll": latent_ll,
        "typicality": typicality(mean_ll, reference),
    }
    return ShapeScores(names, int(shapes.shape[1]), columns, point_ll, np.asarray(reference))


def _point_ll(task: object, shapes: np.ndarray) -> np.ndarray:
    return np.concatenate([
        analyses.point_log_likelihood(task, shapes[i : i + CHUNK_SHAPES])
        for i in range(0, len(shapes), CHUNK_SHAPES)
    ])


def _pointflow_scores(frame: _Frame, shapes: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PointFlow's ELBO per point (data frame) and log p(z) per latent dimension at the
    encoder mean, for every shape."""
    model = frame.model
    elbo, latent = [], []
    with _evaluating(frame, seed), torch.no_grad():
        for i in range(0, len(shapes), CHUNK_SHAPES):
            chunk = shapes[i : i + CHUNK_SHAPES]
            inputs = frame.tensor(frame.to_model(chunk))  # the frame point_log_likelihood uses
            n = inputs.shape[1]
            elbo.append(-model.negative_elbo(inputs).double().cpu().numpy() / n + frame.log_det())
            mu = model.encode(inputs)
            latent.append(model.latent_log_prob(mu).double().cpu().numpy() / model.latent_dim)
    return np.concatenate(elbo), np.concatenate(latent)
