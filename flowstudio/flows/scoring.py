"""Likelihood scores as anomaly detectors: typicality and the AUROC of a score.

A flow gives every input an exact (or bounded) log-likelihood, so ranking data by it is
the obvious out-of-distribution detector. It is also known to fail: Nalisnick et al.
(2019, "Do deep generative models know what they don't know?") showed flows trained on
CIFAR-10 giving *higher* likelihood to SVHN, which they never saw. High-dimensional
probability mass does not sit where the density is highest but in a thin *typical set*
whose log-likelihoods are close to the entropy, so a too-likely input is as suspicious
as a too-unlikely one. The typicality test of Nalisnick et al. (2019, "Detecting
out-of-distribution inputs to deep generative models using typicality") scores an input
by how far its log-likelihood lies from the typical value; :func:`typicality` is that
distance, negated and in units of the reference spread, so that for every score here
higher means "more like the training distribution".

Every score is oriented the same way (higher = more in-distribution), so the AUROC of a
score (:func:`auroc`) is the probability that a random in-distribution item outscores a
random out-of-distribution one (Mann-Whitney U, ties counted half).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata

from flowstudio.errors import BadInputError


def typicality(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``-|s - mean(ref)| / std(ref)``: minus the distance of each score from the typical
    value of ``reference`` (scores of data known to be typical: the model's own samples or
    held-out training data), in reference standard deviations.

    Non-finite reference values are ignored; with fewer than two finite ones the spread
    is unknown and the distance is left unscaled.
    """
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        raise BadInputError("typicality needs at least one finite reference score")
    spread = float(ref.std(ddof=1)) if ref.size > 1 else 0.0
    scale = spread if spread > 0 and math.isfinite(spread) else 1.0
    return -np.abs(np.asarray(scores, dtype=np.float64) - float(ref.mean())) / scale


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """P(in > out) + P(in = out) / 2 over all pairs: the area under the ROC curve of a
    score for which higher means in-distribution. Non-finite scores count as the lowest
    (a model that cannot score an input finitely did not expect it)."""
    a = _finite_or_lowest(in_scores)
    b = _finite_or_lowest(out_scores)
    if a.size == 0 or b.size == 0:
        raise BadInputError("an AUROC needs at least one in-distribution and one out-of-distribution item")
    ranks = rankdata(np.concatenate([a, b]))  # ties share their average rank
    u = ranks[: a.size].sum() - a.size * (a.size + 1) / 2.0
    return float(u / (a.size * b.size))


def auroc_table(
    in_columns: Mapping[str, np.ndarray], out_columns: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """``{"auroc_<score>": AUROC}`` for every score column present in both sets and
    defined (not all NaN) in both."""
    table = {}
    for name, values in in_columns.items():
        other = out_columns.get(name)
        if other is None or _undefined(values) or _undefined(other):
            continue
        table[f"auroc_{name}"] = auroc(values, other)
    return table


def _finite_or_lowest(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return np.where(np.isfinite(array), array, -np.inf)


def _undefined(values: np.ndarray) -> bool:
    return bool(np.isnan(np.asarray(values, dtype=np.float64)).all())
