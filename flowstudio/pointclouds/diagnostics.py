"""Invertibility diagnostics of a point-cloud model (see :mod:`flowstudio.flows.diagnostics`).

Each flow of the model is checked where it is used, in the model's normalized frame:

* ``point_flow``: the map between points and point noise (a single-shape model's flow;
  PointFlow's decoder CNF, conditioned on each shape's latent);
* ``latent_prior``: PointFlow's latent CNF, on the encoded latents of the data and on
  latents it samples.

For each: the round-trip error ``x -> z -> x`` on data points and on the model's samples
(max, mean and the worst offenders), log|det J| against the autograd Jacobian of the map
as computed on a few rows, and local Lipschitz estimates of the forward map (at data or
sample points) and of the inverse (at draws of the base noise, where sampling starts).

**Which solver judges a CNF.** A CNF is invertible whenever its ODE is solved accurately:
the checks that decide ``healthy`` solve every CNF with the accurate adaptive solver
(:data:`~flowstudio.flows.cnf_control.ACCURATE`, dopri5 at 1e-5), so a flow is flagged only when
the model itself is at fault (a field too stiff to solve, an exploding map, a
log-determinant that is not the map's, non-finite values). The run's own *sampler* (the
quick preset's RK4 in 2 steps, say) is reported beside it, in ``sampler``, as information:
with a few fixed steps the forward and inverse passes are two different discretizations of
one ODE, so their round trip is off by about twice the discretization error of one pass.
That is the price of fast sampling, measured (its sample quality is what the metrics
judge), not a broken model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.flows import diagnostics as checks
from flowstudio.flows.cnf import CNF
from flowstudio.flows.cnf_control import ACCURATE, solver_override
from flowstudio.flows.core import Transform
from flowstudio.flows.flow import Flow
from flowstudio.flows.odesolve import ADAPTIVE_SOLVERS as ADAPTIVE
from flowstudio.flows.odesolve import ODESolverError
from flowstudio.pointclouds.analyses import _evaluating, _Frame, point_solver

DIAGNOSED_SHAPES = 4
"""Shapes of data (and samples) whose points are round-tripped."""
DIAGNOSED_POINTS = 256
"""Points of each of those shapes."""
LOG_DET_ROWS = 6
"""Rows whose full Jacobian is taken (D backward passes each, through the solver)."""
LIPSCHITZ_ROWS = 256
"""Rows perturbed for each Lipschitz estimate."""


def diagnose(
    task: Any,
    shapes: np.ndarray | None = None,
    names: list[str] | None = None,
    *,
    n_shapes: int = DIAGNOSED_SHAPES,
    n_points: int = DIAGNOSED_POINTS,
    log_det_rows: int = LOG_DET_ROWS,
    worst: int = 5,
    seed: int = 0,
    sampler: tuple[str | None, int | None] | None = None,
) -> dict[str, Any]:
    """The diagnostics of every flow of the model as a JSON-able dict, with ``flags`` (plain
    warnings) and ``healthy`` (no flag). ``shapes`` (N, P, 3) in the data's frame are the
    data checked; without them the run's held-out data when it can be read, else none.

    CNFs are judged with the accurate solver; ``sampler`` (solver, steps) names the sampler
    whose round trip is reported beside, in ``sampler`` (default: the run's own), and
    never flagged (see the module docstring)."""
    frame = _Frame(task)
    model = frame.model
    with _evaluating(frame, seed):
        data, data_names = _data_rows(frame, task, shapes, names, n_shapes, n_points, seed)
        generator = torch.Generator().manual_seed(seed)
        with _accurate(model):
            judged_with = _describe_solver(model) or "exact (no ODE)"
            flows, checked = _check_flows(
                model, data, data_names, n_shapes, n_points, log_det_rows, worst, generator
            )
        sampled = None
        if checked is not None and _cnfs(model.point_flow):
            sampled = _sampler_round_trip(model, sampler, checked, data_names, worst)
    found = [flag for name, section in flows.items() for flag in checks.flags(name, section)]
    return {
        "model": getattr(task, "model_name", type(model).__name__),
        "frame": "model (normalized: the data have unit scale)",
        "data_shapes": 0 if data is None else int(data.shape[0]),
        "points_per_shape": int(n_points),
        "judged_with": judged_with,
        "flows": flows,
        "sampler": sampled,
        "thresholds": checks.thresholds(),
        "flags": found,
        "healthy": not found,
    }


Checked = tuple[Tensor | None, Tensor, tuple[Tensor | None, Tensor | None]]
"""The point flow's data rows, sample rows and their contexts, as checked."""


def _check_flows(
    model: Any,
    data: Tensor | None,
    names: list[str],
    n_shapes: int,
    n_points: int,
    log_det_rows: int,
    worst: int,
    generator: torch.Generator,
) -> tuple[dict[str, dict[str, Any]], Checked | None]:
    """Every flow's section, and what the point flow was checked on (``None`` when the
    model could not be solved: its section then holds the ``error``)."""
    flows: dict[str, dict[str, Any]] = {}
    try:
        k = data.shape[0] if data is not None else n_shapes
        latent_data = model.encode(data) if model.latent_dim and data is not None else None
        latent_samples = model.sample_latent(k) if model.latent_dim else None
        samples = model.sample_points(k, n_points, latent=latent_samples)
        checked: Checked = (data, samples, (latent_data, latent_samples))
        flows["point_flow"] = _check_flow(
            _transform(model.point_flow), data, samples, checked[2], names, log_det_rows, worst, generator
        )
        if model.latent_dim and isinstance(getattr(model, "prior", None), Flow):
            flows["latent_prior"] = _check_flow(
                model.prior.transform,
                None if latent_data is None else latent_data[:, None],
                latent_samples[:, None],
                (None, None),
                names,
                log_det_rows,
                worst,
                generator,
            )
    except ODESolverError as exc:  # a field the accurate solver cannot integrate: broken
        flows.setdefault("point_flow" if not flows else "latent_prior", {"error": str(exc)})
        return flows, None
    return flows, checked


@contextlib.contextmanager
def _accurate(model: Any) -> Iterator[None]:
    """Every CNF of the model solved with the accurate adaptive solver."""
    with solver_override(model, **ACCURATE, steps=None, step_size=None):
        yield


def _cnfs(module: Any) -> list[CNF]:
    return [m for m in module.modules() if isinstance(m, CNF)] if isinstance(module, torch.nn.Module) else []


def _describe_solver(model: Any) -> dict[str, Any] | None:
    """How the point flow's CNF is solved now (``None``: no CNF)."""
    cnfs = _cnfs(model.point_flow)
    if not cnfs:
        return None
    cnf = cnfs[0]
    if cnf.steps is not None and cnf.solver not in ADAPTIVE:
        return {"solver": cnf.solver, "steps": cnf.steps}
    return {"solver": cnf.solver, "atol": cnf.atol, "rtol": cnf.rtol}


SAMPLER_MEANING = (
    "Information, not judged: with few fixed steps the sampler's forward and inverse passes are two "
    "different discretizations of one ODE, so its round trip is off by about twice the discretization "
    "error of one pass (in the data's units, scale ~1). Samples drawn with it differ from the exact "
    "flow's by about that much; the metrics judge whether it matters."
)


def _sampler_round_trip(
    model: Any, sampler: tuple[str | None, int | None] | None, checked: Checked, names: list[str], worst: int
) -> dict[str, Any]:
    """The point flow's round trip with the sampler (the run's own unless ``sampler``)."""
    data, samples, contexts = checked
    chosen = point_solver(model, *sampler) if sampler else contextlib.nullcontext()
    with chosen:
        report: dict[str, Any] = {"settings": _describe_solver(model), "meaning": SAMPLER_MEANING}
        transform = _transform(model.point_flow)
        for what, rows, context in (("data", data, contexts[0]), ("samples", samples, contexts[1])):
            if rows is None:
                report[f"round_trip_{what}"] = None
                continue
            x, ctx = _flatten(rows, context)
            try:
                errors = checks.round_trip_errors(transform, x, ctx)
            except ODESolverError as exc:
                report[f"round_trip_{what}"] = {"error": str(exc)}
                continue
            labels = _labels(what, rows.shape[0], rows.shape[1], names if what == "data" else None)
            report[f"round_trip_{what}"] = checks.error_summary(errors, labels, worst)
    return report


def _transform(flow: Any) -> Transform:
    return flow.transform if isinstance(flow, Flow) else flow


def _data_rows(
    frame: _Frame,
    task: Any,
    shapes: np.ndarray | None,
    names: list[str] | None,
    n_shapes: int,
    n_points: int,
    seed: int,
) -> tuple[Tensor | None, list[str]]:
    """Up to ``n_shapes`` data shapes of ``n_points`` points each in the model frame, (S, P, 3)."""
    rng = np.random.default_rng(seed)
    if shapes is not None:
        cloud = np.asarray(shapes, dtype=np.float32)
        if cloud.ndim == 2:
            cloud = cloud[None]
        if cloud.ndim != 3 or cloud.shape[-1] != 3 or not len(cloud) or not np.isfinite(cloud).all():
            raise BadInputError(f"data to diagnose must be finite (N, P, 3) points, got shape {cloud.shape}")
        model_frame = frame.to_model(cloud[:n_shapes])
        names = list(names or [f"shape_{i:03d}" for i in range(len(cloud))])[:n_shapes]
    else:
        try:
            held = task.held_out().detach().cpu().numpy()
        except (BadInputError, AttributeError, OSError):
            return None, []
        model_frame = held[None] if held.ndim == 2 else held[:n_shapes]
        names = [f"held_out_{i:03d}" for i in range(len(model_frame))]
    picks = [rng.choice(c.shape[0], size=n_points, replace=c.shape[0] < n_points) for c in model_frame]
    rows = np.stack([c[p] for c, p in zip(model_frame, picks, strict=True)])
    return frame.tensor(rows), names


def _check_flow(
    transform: Transform,
    data: Tensor | None,
    samples: Tensor,
    contexts: tuple[Tensor | None, Tensor | None],
    names: list[str],
    log_det_rows: int,
    worst: int,
    generator: torch.Generator,
) -> dict[str, Any]:
    """The checks of one flow on (S, P, D) data and samples, each shape with its context."""
    section: dict[str, Any] = {}
    flat = {}
    for what, rows, context in (("data", data, contexts[0]), ("samples", samples, contexts[1])):
        if rows is None:
            section[f"round_trip_{what}"] = None
            continue
        x, ctx = _flatten(rows, context)
        flat[what] = (x, ctx)
        errors = checks.round_trip_errors(transform, x, ctx)
        labels = _labels(what, rows.shape[0], rows.shape[1], names if what == "data" else None)
        section[f"round_trip_{what}"] = checks.error_summary(errors, labels, worst)
    x, ctx = flat.get("data", flat["samples"])
    pick = torch.randperm(x.shape[0], generator=generator)[:log_det_rows].to(x.device)
    ld_errors = checks.log_det_errors(transform, x[pick], None if ctx is None else ctx[pick])
    section["log_det"] = {"rows": len(pick), **checks.error_summary(ld_errors, [{}] * len(pick), 1)}
    section["log_det"].pop("worst")
    some = torch.randperm(x.shape[0], generator=generator)[:LIPSCHITZ_ROWS].to(x.device)
    x_l, ctx_l = x[some], None if ctx is None else ctx[some]
    z_l = torch.randn(x_l.shape, generator=generator, dtype=x.dtype).to(x.device)
    forward = checks.lipschitz_estimate(checks.forward_value(transform), x_l, ctx_l, generator=generator)
    inverse = checks.lipschitz_estimate(transform.inverse_value, z_l, ctx_l, generator=generator)
    section["lipschitz"] = {"forward": _finite(forward), "inverse": _finite(inverse)}
    return section


def _flatten(rows: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(S, P, D) rows as (S P, D), and each shape's context repeated for its points."""
    s, p, d = rows.shape
    x = rows.reshape(s * p, d)
    if context is None:
        return x, None
    return x, context.repeat_interleave(p, dim=0)


def _labels(what: str, shapes: int, points: int, names: list[str] | None) -> list[dict[str, Any]]:
    return [
        {"shape": s, **({"name": names[s]} if names else {}), **({"point": j} if points > 1 else {})}
        for s in range(shapes)
        for j in range(points)
    ]


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
