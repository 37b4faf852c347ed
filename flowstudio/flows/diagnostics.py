"""Invertibility diagnostics: is a trained flow invertible in practice, and is its log|det J| right?

A flow is invertible by construction, but only in exact arithmetic. Behrmann et al. (2021,
"Understanding and mitigating exploding inverses in invertible neural networks") show that
trained flows can have an inverse whose Lipschitz constant explodes, so that a float32
round trip ``x -> z -> x`` returns something else, and that densities of such models are
then meaningless off the training data. A CNF adds its own failure: integrated with too
few fixed steps, its forward and inverse maps are two different discretizations, not
inverses of each other, and the log-determinant integrated along the path is not the
log-determinant of the map actually computed. The checks here measure all three on
concrete inputs:

* :func:`round_trip_errors`: ``||T^{-1}(T(x)) - x||`` per row;
* :func:`log_det_errors`: the reported ``log|det dT/dx|`` against the one from the full
  autograd Jacobian of the computed map (small dimensions only: it costs D backward passes
  a row, through the ODE solver for a CNF);
* :func:`lipschitz_estimate`: ``max ||f(x + δ) - f(x)|| / ||δ||`` over random small
  perturbations δ, for the forward map and for the inverse, a lower bound on each map's
  Lipschitz constant near the inputs (finite differences on random pairs).

:func:`flags` turns the measurements into plain-language warnings with fixed thresholds
(in the model's normalized frame, where the data have unit scale).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from flowstudio.flows.core import Transform, brute_force_logdet

ROUND_TRIP_TOLERANCE = 1e-2
"""Largest acceptable round-trip error, in the model frame's units (the data's scale is ~1)."""
LOG_DET_TOLERANCE = 0.05
"""Largest acceptable gap between the reported and the autograd log|det J|, in nats."""
LIPSCHITZ_LIMIT = 1e3
"""A local Lipschitz estimate above this (forward or inverse) is an exploding map: an input
error of 1e-7 (float32) becomes 1e-4 after one pass."""
PERTURBATION = 1e-3
"""Length of the random perturbations of the finite-difference Lipschitz estimate."""


@torch.no_grad()
def round_trip_errors(transform: Transform, x: Tensor, context: Tensor | None = None) -> Tensor:
    """``||T^{-1}(T(x)) - x||`` for each row of a (M, D) ``x``, shape (M,); ``inf`` where
    ``x`` (a model's samples, say) or the forward map leaves the finite numbers."""
    errors = torch.full(x.shape[:-1], math.inf, dtype=x.dtype, device=x.device)
    rows = torch.isfinite(x).all(dim=-1)
    if rows.any():
        z, _ = transform(x[rows], None if context is None else context[rows])
        rows[rows.clone()] = torch.isfinite(z).all(dim=-1)
        z = z[torch.isfinite(z).all(dim=-1)]
    if rows.any():
        back = transform.inverse_value(z, None if context is None else context[rows])
        errors[rows] = torch.linalg.vector_norm(back - x[rows], dim=-1)
    return errors


def log_det_errors(transform: Transform, x: Tensor, context: Tensor | None = None) -> Tensor:
    """``|reported log|det J| - autograd log|det J||`` for each row of a (M, D) ``x``, (M,).

    The autograd Jacobian is of the map as computed (through the solver's steps for a
    CNF), so a log-determinant that does not belong to the map computed shows here.
    """
    with torch.no_grad():
        _, reported = transform(x, context)
    with torch.enable_grad():
        brute = brute_force_logdet(transform, x.detach().clone(), context)
    return (reported - brute.detach()).abs()


@torch.no_grad()
def lipschitz_estimate(
    fn: Callable[[Tensor, Tensor | None], Tensor],
    x: Tensor,
    context: Tensor | None = None,
    radius: float = PERTURBATION,
    generator: torch.Generator | None = None,
) -> float:
    """``max_i ||f(x_i + δ_i) - f(x_i)|| / ||δ_i||`` with random directions of length
    ``radius``: a finite-difference lower bound on f's Lipschitz constant near the rows of
    ``x``. Infinite when an output is not finite."""
    direction = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    delta = radius * direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)
    change = torch.linalg.vector_norm(fn(x + delta, context) - fn(x, context), dim=-1)
    if not torch.isfinite(change).all():
        return math.inf
    return float((change / radius).max())


def forward_value(transform: Transform) -> Callable[[Tensor, Tensor | None], Tensor]:
    """The transform's forward map without its log-determinant."""
    return lambda x, context: transform(x, context)[0]


def error_summary(errors: Tensor, labels: Sequence[dict[str, Any]], worst: int = 5) -> dict[str, Any]:
    """``{"max", "mean", "worst": [label + {"error"}, ...]}`` of per-row errors, the worst
    ``worst`` rows first; a non-finite error is reported as ``null`` and sorts first."""
    values = errors.detach().double().cpu()
    ranked = torch.where(torch.isfinite(values), values, torch.full_like(values, math.inf))
    order = torch.argsort(ranked, descending=True)[:worst].tolist()
    finite = bool(torch.isfinite(values).all())
    return {
        "max": _json_float(float(ranked.max())) if finite else None,
        "mean": _json_float(float(values.mean())) if finite else None,
        "finite": finite,
        "worst": [{**labels[i], "error": _json_float(float(values[i]))} for i in order],
    }


def thresholds() -> dict[str, float]:
    """The thresholds :func:`flags` applies, as a report lists them."""
    return {
        "round_trip": ROUND_TRIP_TOLERANCE,
        "log_det_nats": LOG_DET_TOLERANCE,
        "lipschitz": LIPSCHITZ_LIMIT,
    }


def flags(name: str, section: dict[str, Any]) -> list[str]:
    """Warnings for one diagnosed flow's section (keys ``round_trip_data``,
    ``round_trip_samples``, ``log_det``, ``lipschitz``), each naming the flow and the check;
    a section holding an ``error`` (the flow could not even be evaluated) is one warning."""
    if "error" in section:
        return [f"{name}: could not be evaluated ({section['error']})"]
    checks = [
        (f"round_trip_{what}", ROUND_TRIP_TOLERANCE, f"round trip x -> z -> x on {what}", "off by up to",
         "the inverse does not undo the forward map")
        for what in ("data", "samples")
    ]
    checks.append(("log_det", LOG_DET_TOLERANCE, "log|det J|", "differs from autograd's by up to",
                   "its densities are not those of the map it computes"))
    found = []
    for key, tolerance, what, verb, meaning in checks:
        summary = section.get(key)
        if summary is None:
            continue
        if not summary["finite"]:
            found.append(f"{name}: {what} gives non-finite values")
        elif summary["max"] > tolerance:
            found.append(f"{name}: {what} is {verb} {summary['max']:.3g} (> {tolerance:g}): {meaning}")
    for direction, value in (section.get("lipschitz") or {}).items():
        if value is None or value > LIPSCHITZ_LIMIT:
            shown = "infinite" if value is None else f"{value:.3g}"
            found.append(
                f"{name}: the {direction} map's local Lipschitz estimate is {shown} (> {LIPSCHITZ_LIMIT:g}): "
                "it explodes (Behrmann et al. 2021)"
            )
    return found


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
