"""Quality metrics computed for the window, off its thread, with progress it can poll.

- Point clouds: MMD, COV and 1-NNA (Chamfer, and EMD when asked; Yang et al. 2019,
  PointFlow §5.1) of clouds drawn from the current model against the data's held-out
  shapes (its ``test`` split). The sample count defaults to the number of references, as
  1-NNA needs equally many of each to read 50% as "indistinguishable".
- Molecules: the MOSES metrics, and the histograms of each property and of ring sizes of
  the generated molecules over the training set's (issue 13), so a 100% validity headline
  cannot hide implausible chemistry.

:class:`ProgressBox` is written by the worker thread and read by a timer on the GUI thread
(a float and a string: no lock needed under the GIL, and no Qt in the workbench).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError

POINT_METRICS_MAX_SHAPES = 64
"""The default cap on sampled and reference shapes (the pairwise matrices grow as n²)."""
POINT_METRICS_POINTS = 512
"""Points per cloud for the window's metrics (CD cost grows as P²; PointFlow uses 2,048)."""

POINT_METRIC_HELP = {
    "MMD-CD": "Minimum matching distance (Chamfer): held-out shape to nearest sample (lower is better)",
    "COV-CD": "Coverage (Chamfer): the share of held-out shapes nearest to some sample (higher is better)",
    "1-NNA-CD": "1-nearest-neighbour accuracy (Chamfer): 50% means indistinguishable from held-out shapes",
    "MMD-EMD": "Minimum matching distance under the earth mover's distance (lower is better)",
    "COV-EMD": "Coverage under the earth mover's distance (higher is better)",
    "1-NNA-EMD": "1-nearest-neighbour accuracy under the earth mover's distance (50% is best)",
}
"""One line per point-cloud metric: the metrics table's third column."""

HISTOGRAM_TITLES = {
    "ring_size": "ring sizes (atoms per ring)",
    "logP": "logP",
    "SA": "SA score",
    "QED": "QED",
    "weight": "molecular weight",
    "heavy_atoms": "heavy atoms",
    "rings": "rings per molecule",
    "aromatic_rings": "aromatic rings",
    "fused_ring_systems": "fused ring systems",
}


@dataclass
class ProgressBox:
    """How far a long job is (0..1) and what it does now."""

    fraction: float = 0.0
    stage: str = ""

    def __call__(self, fraction: float) -> None:
        self.fraction = float(fraction)


@dataclass(frozen=True)
class HistogramPanel:
    """One histogram to draw: the generated shares over the reference shares, per bin."""

    key: str
    title: str
    edges: np.ndarray
    shares: np.ndarray
    reference_shares: np.ndarray


@dataclass
class Evaluation:
    """A metrics table with the setting it was computed at, and histograms (molecules)."""

    metrics: dict[str, Any]
    samples: int
    temperature: float
    panels: list[HistogramPanel] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # what a metric's value is made of
    bond_temperature: float | None = None  # GraphAF's bond steps


def held_out_shapes(collection: Any, limit: int = POINT_METRICS_MAX_SHAPES) -> np.ndarray:
    """The collection's ``test`` shapes (at most ``limit``, spread over the split); a
    collection without a split, or with fewer than 2 test shapes, is bad input."""
    split = getattr(collection, "split", None)
    if split is None:
        raise BadInputError("the metrics need held-out shapes: this data set has no train/test split")
    test = np.flatnonzero(np.asarray(split) == "test")
    if len(test) < 2:
        raise BadInputError(f"the metrics need at least 2 held-out shapes, the data set has {len(test)}")
    picks = test[np.unique(np.linspace(0, len(test) - 1, min(limit, len(test))).round().astype(int))]
    return np.asarray(collection.points)[picks]


def subsample(clouds: np.ndarray, points: int, seed: int = 0) -> np.ndarray:
    """Each cloud reduced to ``points`` points chosen at random (all when it has fewer)."""
    if clouds.shape[1] <= points:
        return clouds
    rng = np.random.default_rng(seed)
    return np.stack([c[rng.choice(len(c), points, replace=False)] for c in clouds])


def histogram_panels(histograms: dict[str, Any]) -> list[HistogramPanel]:
    """The engine's histograms as panels, ring sizes first (the chemistry headline)."""
    order = ["ring_size", *[k for k in histograms if k != "ring_size"]]
    return [
        HistogramPanel(
            key,
            HISTOGRAM_TITLES.get(key, key),
            np.asarray(histograms[key].edges),
            np.asarray(histograms[key].shares),
            np.asarray(histograms[key].reference_shares),
        )
        for key in order
        if key in histograms
    ]
