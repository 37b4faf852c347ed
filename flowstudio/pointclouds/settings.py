"""Hyperparameters of the point-cloud models and their presets.

:data:`HYPERPARAMETERS` lists every setting a point-cloud run has, the engine's training
options included, each with a tooltip and a range, so that the window builds its form
from it and ``flowstudio points train --set key=value`` checks values against it.
:func:`resolve` merges a preset with the user's overrides into one flat dict of values.

The presets themselves live in :mod:`flowstudio.pointclouds.presets`.
"""

from __future__ import annotations

from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.flows.matching import COUPLINGS, OBJECTIVES, TIME_DISTRIBUTIONS
from flowstudio.flows.odesolve import ADAPTIVE_SOLVERS, FIXED_STEP_SOLVERS
from flowstudio.params import Param, engine_params
from flowstudio.pointclouds.presets import POINTFLOW_RECIPES, PRESET_VALUES

MODELS = ("pointflow", "cnf", "realnvp", "glow", "maf", "nsf", "nsf_ar", "nice", "planar")
PRESETS = ("quick", "full")
SOLVERS = ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS
CNF_MODELS = ("pointflow", "cnf")
MAX_WIDTH = 16384
"""The widest hidden layer accepted (a wider one would exhaust memory, not train)."""
DISCRETE = ("realnvp", "glow", "maf", "nsf", "nsf_ar", "nice", "planar")

HYPERPARAMETERS: list[Param] = [
    # -- data --------------------------------------------------------------------------
    Param(
        "normalization",
        "dataset",
        "How points are centred and scaled before training: 'dataset' "
        "uses one centre and scale for the whole collection (PointFlow's default), 'shape' "
        "one per shape, 'none' trains on raw coordinates. Samples are always written back "
        "in the data's own frame.",
        choices=("dataset", "shape", "none"),
        group="data",
    ),
    Param(
        "points_per_shape",
        2048,
        "Points read from each shape (meshes are sampled on their surface with this many points).",
        minimum=16,
        maximum=100000,
        group="data",
    ),
    Param(
        "test_fraction",
        0.1,
        "Share held out for validation when the data has no test split: "
        "whole shapes for PointFlow, points of the shape for single-shape models.",
        minimum=0.01,
        maximum=0.5,
        group="data",
    ),
    Param(
        "shape_index",
        0,
        "Single-shape models: which shape of a collection to learn.",
        minimum=0,
        group="data",
    ),
    # -- model -------------------------------------------------------------------------
    Param("latent_dim", 128, "Size of the shape latent z (PointFlow).", minimum=1, maximum=1024),
    Param(
        "encoder_hidden",
        "128-128-256-512",
        "Widths of the PointNet encoder's shared per-point layers, dash-separated (PointFlow).",
    ),
    Param(
        "prior_flow",
        True,
        "Learn the latent prior p(z) with a CNF; off, p(z) is N(0, I) (the paper's ablation).",
    ),
    Param("prior_hidden", "256-256", "Widths of the latent CNF's network, dash-separated."),
    Param("point_hidden", "512-512-512", "Widths of the point CNF's network, dash-separated."),
    Param("blocks", 1, "CNF blocks stacked in each flow (each its own ODE).", minimum=1, maximum=8),
    Param(
        "batch_norm",
        False,
        "Moving batch norm between CNF blocks (FFJORD/PointFlow).",
    ),
    Param(
        "flow_layers",
        8,
        "Discrete flows: coupling / autoregressive layers, Glow steps or planar maps.",
        minimum=1,
        maximum=128,
    ),
    Param("flow_hidden", 64, "Discrete flows: width of the conditioner networks.", minimum=2, maximum=2048),
    # -- solver ------------------------------------------------------------------------
    Param(
        "solver",
        "dopri5",
        "ODE solver of the CNFs: adaptive (dopri5, bosh3, adaptive_heun) "
        "or fixed-step (rk4, midpoint, euler). Flow matching trains without a solver: "
        "there it is how the model samples.",
        choices=SOLVERS,
        group="solver",
    ),
    Param(
        "atol", 1e-5, "Absolute tolerance of adaptive solvers.", minimum=1e-10, maximum=1.0, group="solver"
    ),
    Param(
        "rtol", 1e-5, "Relative tolerance of adaptive solvers.", minimum=1e-10, maximum=1.0, group="solver"
    ),
    Param("steps", 4, "Steps over [0, T] for fixed-step solvers.", minimum=1, maximum=1000, group="solver"),
    Param(
        "trace",
        "exact",
        "Divergence of the point CNF: 'exact' (cheap in 3-D) or the Hutchinson estimator.",
        choices=("exact", "hutchinson"),
        group="solver",
    ),
    Param(
        "prior_trace",
        "hutchinson",
        "Divergence of the latent CNF (exact costs one vector-Jacobian product per latent dimension).",
        choices=("exact", "hutchinson"),
        group="solver",
    ),
    Param("end_time", 0.5, "Integration time T of each CNF.", minimum=0.01, maximum=10.0, group="solver"),
    Param("train_end_time", True, "Learn T along with the weights (PointFlow, FFJORD).", group="solver"),
    Param(
        "adjoint",
        False,
        "Backpropagate with the adjoint ODE: memory constant in the number "
        "of steps, at the cost of a second solve.",
        group="solver",
    ),
    # -- regularization ----------------------------------------------------------------
    Param(
        "kinetic_weight",
        0.0,
        "RNODE: weight of the kinetic energy ∫||f||² dt (Finlay et al. "
        "2020); straighter paths, fewer function evaluations.",
        minimum=0.0,
        maximum=10.0,
        group="regularization",
    ),
    Param(
        "jacobian_weight",
        0.0,
        "RNODE: weight of the Jacobian Frobenius norm ∫||∂f/∂z||²_F dt.",
        minimum=0.0,
        maximum=10.0,
        group="regularization",
    ),
    # -- objective ---------------------------------------------------------------------
    Param(
        "objective",
        "likelihood",
        "How the CNFs learn: 'likelihood' maximizes the (ELBO of the) log-likelihood through "
        "ODE solves, with RNODE; 'flow_matching' regresses the point CNF's velocity onto "
        "straight paths from the data to noise (one network evaluation a step, no solve; "
        "T stays fixed). Both give the same kind of model, with exact log-likelihoods.",
        choices=OBJECTIVES,
        group="objective",
    ),
    Param(
        "sigma_min",
        0.0,
        "Flow matching: the path's noise level at the data end (Lipman et al. 2023); 0 is "
        "the rectified-flow path.",
        minimum=0.0,
        maximum=0.5,
        group="objective",
    ),
    Param(
        "time_distribution",
        "uniform",
        "Flow matching: where along the path training looks: 'uniform', or 'logit_normal' "
        "(more weight on the middle, Esser et al. 2024).",
        choices=TIME_DISTRIBUTIONS,
        group="objective",
    ),
    Param(
        "coupling",
        "independent",
        "Flow matching: pair each point with its own noise ('independent') or pair a "
        "shape's points with their noise by an exact optimal-transport assignment ('ot', "
        "Tong et al. 2024): straighter paths, better few-step samples, a little CPU per step.",
        choices=COUPLINGS,
        group="objective",
    ),
    Param(
        "latent_weight",
        0.01,
        "PointFlow with flow matching: weight of the ELBO's latent part (-log p(z) - H[q], "
        "per latent dimension) beside the matching loss.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
    ),
    Param(
        "encoder_points",
        0,
        "PointFlow with flow matching: points of each training shape the encoder sees (a "
        "random subset; 0: all of train_points). The point CNF matches every point.",
        minimum=0,
        maximum=100000,
        group="objective",
    ),
    Param(
        "prior_weight",
        1.0,
        "Weight of log p(z) in PointFlow's ELBO.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
    ),
    Param(
        "entropy_weight",
        1.0,
        "Weight of the entropy of q(z|X) in PointFlow's ELBO.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
    ),
    # -- batches and display -------------------------------------------------------------
    Param(
        "batch_size",
        128,
        "Shapes per step (PointFlow) or point clouds per step (single shape).",
        minimum=1,
        maximum=4096,
        group="training",
    ),
    Param(
        "train_points",
        2048,
        "Points per shape and step: a random subset of each shape.",
        minimum=8,
        maximum=100000,
        group="training",
    ),
    Param(
        "val_shapes",
        16,
        "Held-out shapes (or point clouds) scored at each validation.",
        minimum=1,
        maximum=10000,
        group="training",
    ),
    Param(
        "snapshot_points",
        2048,
        "Points per cloud in the live samples.",
        minimum=16,
        maximum=100000,
        group="training",
    ),
    Param(
        "prior_refine_s",
        0.0,
        "PointFlow: seconds spent once the run's budget is spent (not when it is stopped) "
        "fitting the latent prior alone to the encoder's posteriors of every training shape, "
        "on the best weights. The prior lags behind the encoder in joint training, and it is "
        "what draws the samples.",
        minimum=0.0,
        maximum=3600.0,
        group="training",
    ),
    # -- the engine's options (flowstudio.training.options.TrainOptions) --------------------
    *engine_params(samples_of="Clouds", lr=2e-3, samples_n=4, samples_every_s=5.0, validate_every=100),
]

BY_NAME: dict[str, Param] = {p.name: p for p in HYPERPARAMETERS}
ENGINE_OPTIONS = tuple(p.name for p in HYPERPARAMETERS if p.group == "engine")

_POINTFLOW_ONLY = {
    "latent_dim",
    "encoder_hidden",
    "prior_flow",
    "prior_hidden",
    "prior_trace",
    "prior_weight",
    "entropy_weight",
    "prior_refine_s",
    "latent_weight",
    "encoder_points",
}
_CNF_ONLY = {
    "point_hidden",
    "blocks",
    "batch_norm",
    "solver",
    "atol",
    "rtol",
    "steps",
    "trace",
    "end_time",
    "train_end_time",
    "adjoint",
    "kinetic_weight",
    "jacobian_weight",
    "objective",
    "sigma_min",
    "time_distribution",
    "coupling",
}
_DISCRETE_ONLY = {"flow_layers", "flow_hidden"}
_SINGLE_SHAPE_ONLY = {"shape_index"}

def applies_to(param: Param, model_name: str) -> bool:
    """Whether ``param`` means anything for ``model_name``."""
    name = param.name
    if name in _POINTFLOW_ONLY:
        return model_name == "pointflow"
    if name in _CNF_ONLY:
        return model_name in CNF_MODELS
    if name in _DISCRETE_ONLY:
        return model_name in DISCRETE
    if name in _SINGLE_SHAPE_ONLY:
        return model_name != "pointflow"
    return True


def hyperparameters(model_name: str) -> list[Param]:
    """The parameters the form shows for ``model_name``."""
    check_model(model_name)
    return [p for p in HYPERPARAMETERS if applies_to(p, model_name)]


def check_model(model_name: str) -> str:
    if model_name not in MODELS:
        raise BadInputError(f"unknown point-cloud model {model_name!r}; choose one of {', '.join(MODELS)}")
    return model_name


def preset_values(model_name: str, preset: str, objective: str | None = None) -> dict[str, Any]:
    """Every parameter's value under ``preset`` for ``model_name``; for PointFlow, the
    recipe of ``objective`` (default: the preset's own, see ``POINTFLOW_RECIPES``)."""
    check_model(model_name)
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    family = model_name if model_name in CNF_MODELS else "discrete"
    values = {p.name: p.default for p in HYPERPARAMETERS}
    values.update(PRESET_VALUES[preset][family])
    if model_name == "pointflow":
        recipes = POINTFLOW_RECIPES[preset]
        values.update(recipes.get(str(objective), next(iter(recipes.values()))))
    if model_name == "planar":
        values["flow_layers"] = 32 if preset == "quick" else 64
    return values


def resolve(model_name: str, preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset values with ``overrides`` applied, each checked against its :class:`Param`;
    an unknown name is refused with the list of valid ones."""
    values = preset_values(model_name, preset, (overrides or {}).get("objective"))
    for name, value in (overrides or {}).items():
        if name not in BY_NAME:
            raise BadInputError(f"unknown hyperparameter {name!r}; valid names: {', '.join(sorted(BY_NAME))}")
        values[name] = BY_NAME[name].validate(value)
    return values


def widths(text: str, name: str) -> tuple[int, ...]:
    """Parse dash-separated layer widths such as ``"512-512-512"``."""
    # Every dash-separated part must be a plain positive integer: "-8-8" or "8--8" (a
    # negative width) is refused, not read as "8-8".
    pieces = [p.strip() for p in str(text).split("-")]
    parts = tuple(int(p) for p in pieces) if all(p.isdigit() for p in pieces) else ()
    if not parts or any(p < 1 or p > MAX_WIDTH for p in parts):
        raise BadInputError(
            f"hyperparameter {name!r} must be dash-separated positive widths (at most {MAX_WIDTH}) "
            f"such as '64-64', got {text!r}"
        )
    return parts
