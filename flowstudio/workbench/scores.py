"""Likelihood scores and invertibility diagnostics for the window, Qt-free.

The scores page ranks the loaded collection by one score of
:mod:`flowstudio.pointclouds.scores`, marks its outliers and shows the per-point
log-likelihood of the selected shape; its "Check invertibility" button shows the
diagnostics of :mod:`flowstudio.pointclouds.diagnostics`. This module computes what the
page draws (on the job thread) and the texts it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

SCORE_POINTS = 256
"""Points of each shape scored in the window (the mean per-point scores are estimates)."""
MAX_SCORED_SHAPES = 400
"""Shapes of a collection the window scores (the first ones)."""
OUTLIER_MADS = 3.0
"""A shape is an outlier of its collection when its score lies this many robust standard
deviations (1.4826 MAD) below the collection's median."""

SCORE_LABELS = {
    "mean_point_ll": "mean log p(x) per point",
    "shape_ll_per_point": "shape log-likelihood / point (ELBO for PointFlow)",
    "latent_ll": "latent log p(z) (PointFlow)",
    "typicality": "typicality (distance from the model's typical value)",
}
DEFAULT_SCORE = "mean_point_ll"
"""The score that measured best in ``benchmarks/likelihood_scores.py`` (held-out ModelNet
chairs against other shapes; ``benchmarks/results/likelihood-scores.md``)."""
WARNING = (
    "A flow can give higher likelihood to data it never saw (Nalisnick et al. 2019): "
    "rank by more than one score. On held-out chairs against other shapes the per-point "
    "log-likelihood separated best; the latent prior's log p(z) ranked other shapes as "
    "more likely than chairs."
)


@dataclass(frozen=True)
class RankedShapes:
    """A collection scored: ``order`` runs from the most anomalous shape to the most typical
    by ``score``; ``outliers[i]`` marks shape ``i``; ``point_ll[i]`` is the log-likelihood of
    each point of ``clouds[i]`` (the points scored, in the data's frame)."""

    names: list[str]
    score: str
    columns: dict[str, np.ndarray]
    order: np.ndarray
    outliers: np.ndarray
    clouds: np.ndarray
    point_ll: np.ndarray

    def value(self, index: int) -> float:
        return float(self.columns[self.score][index])

    def defined(self, score: str) -> bool:
        """Whether ``score`` has a value for some shape (``latent_ll`` needs PointFlow)."""
        return score in self.columns and bool(np.isfinite(self.columns[score]).any())

    def by(self, score: str) -> RankedShapes:
        """The same shapes ranked by another (defined) score."""
        values = self.columns[score]
        return replace(self, score=score, order=ranking(values), outliers=outlier_mask(values))

    @property
    def caption(self) -> str:
        n_out = int(self.outliers.sum())
        label = SCORE_LABELS.get(self.score, self.score)
        return (
            f"{len(self.names)} shapes ranked by {label}, most anomalous first; {n_out} outlier"
            f"{'' if n_out == 1 else 's'} (more than {OUTLIER_MADS:g} robust deviations below the median). "
            f"{WARNING}"
        )


def ranking(values: np.ndarray) -> np.ndarray:
    """Indices from the lowest score (the most anomalous; non-finite first) to the highest."""
    values = np.asarray(values, dtype=np.float64)
    return np.argsort(np.where(np.isfinite(values), values, -np.inf), kind="stable")


def outlier_mask(values: np.ndarray, mads: float = OUTLIER_MADS) -> np.ndarray:
    """Values more than ``mads`` robust standard deviations (1.4826 MAD) below the median;
    non-finite values are outliers. With no spread nothing finite is an outlier."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return ~finite
    median = float(np.median(values[finite]))
    spread = 1.4826 * float(np.median(np.abs(values[finite] - median)))
    if spread == 0:
        return ~finite
    return ~finite | (values < median - mads * spread)


def rank_shapes(
    task: Any, shapes: np.ndarray, names: list[str], score: str = DEFAULT_SCORE, points: int = SCORE_POINTS,
    seed: int = 0,
) -> RankedShapes:
    """Score the first :data:`MAX_SCORED_SHAPES` shapes at ``points`` points each and rank
    them by ``score`` (an undefined score, such as ``latent_ll`` of a single-shape model,
    falls back to the default)."""
    from flowstudio.pointclouds.scores import score_shapes

    rng = np.random.default_rng(seed)
    shapes = np.asarray(shapes, dtype=np.float32)[:MAX_SCORED_SHAPES]
    picks = [rng.choice(s.shape[0], points, replace=s.shape[0] < points) for s in shapes]
    clouds = np.stack([s[p] for s, p in zip(shapes, picks, strict=True)])
    scores = score_shapes(task, clouds, list(names)[: len(clouds)], seed=seed)
    ranked = RankedShapes(
        scores.names, DEFAULT_SCORE, scores.columns, np.arange(len(clouds)), np.zeros(len(clouds), bool),
        clouds, scores.point_ll,
    )
    return ranked.by(score if ranked.defined(score) else DEFAULT_SCORE)


def diagnose_model(task: Any, shapes: np.ndarray | None, names: list[str] | None) -> dict[str, Any]:
    """The invertibility diagnostics of the model on the first shapes (JSON-able)."""
    from flowstudio.pointclouds.diagnostics import diagnose

    return diagnose(task, shapes, names)


def diagnostics_text(report: dict[str, Any]) -> str:
    """A few plain lines: how CNFs were judged, one line per diagnosed flow, the run's own
    sampler (information), then the flags or that there are none."""
    judged = report.get("judged_with")
    lines = [f"Judged with {_solver_text(judged)}."] if isinstance(judged, dict) else []
    lines += flow_lines(report["flows"])
    sampler = report.get("sampler")
    if sampler:
        trips = [
            f"{what} max {value_text(trip.get('max'))}"
            for what in ("data", "samples")
            if (trip := sampler[f"round_trip_{what}"]) is not None
        ]
        lines.append(
            f"The run's sampler ({_solver_text(sampler['settings'])}): round trip on {', '.join(trips)}. "
            + sampler["meaning"]
        )
    if report["flags"]:
        lines += [f"⚠ {flag}" for flag in report["flags"]]
    else:
        lines.append("No flag: the flows invert and their log-determinants match within the thresholds.")
    return "\n".join(lines)


def flow_lines(flows: dict[str, dict[str, Any]]) -> list[str]:
    """One line per diagnosed flow (:func:`flowstudio.flows.diagnostics.flags`' sections)."""
    lines = []
    for name, section in flows.items():
        if "error" in section:
            lines.append(f"{name}: could not be evaluated")
            continue
        parts = []
        for key, what in (("round_trip_data", "data"), ("round_trip_samples", "samples")):
            trip = section.get(key)
            if trip is not None:
                max_, mean = value_text(trip.get("max")), value_text(trip.get("mean"))
                parts.append(f"round trip on {what}: max {max_}, mean {mean}")
        if "log_det" in section:
            parts.append(f"log|det J| vs autograd: max gap {value_text(section['log_det']['max'])} nats")
            forward, inverse = (value_text(section["lipschitz"][way]) for way in ("forward", "inverse"))
            parts.append(f"Lipschitz ≈ {forward} forward, {inverse} inverse")
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


def _solver_text(settings: dict[str, Any]) -> str:
    if "steps" in settings:
        return f"{settings['solver']} in {settings['steps']} steps"
    return f"{settings['solver']} at tolerance {settings['atol']:g}"


def value_text(value: float | None) -> str:
    """A measured value in three digits, or that it is not finite (JSON's null)."""
    return "not finite" if value is None else f"{value:.3g}"
