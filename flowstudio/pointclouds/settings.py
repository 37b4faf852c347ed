"""The point-cloud models' hyperparameters: which model reads which, presets, resolving.

:data:`HYPERPARAMETERS` are the :class:`~flowstudio.params.Param` s of the schema
(:class:`~flowstudio.pointclouds.schema.PointCloudSettings`, then the engine's options,
:class:`flowstudio.params.EngineSettings`), from which the window builds its form and
``flowstudio points train --set key=value`` checks values. :func:`resolve` merges a preset
with the user's overrides into one flat dict of validated values.

The presets themselves live in :mod:`flowstudio.pointclouds.presets`.
"""

from __future__ import annotations

from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import Param, engine_params, params_of
from flowstudio.params import resolve as resolve_values
from flowstudio.pointclouds.presets import POINTFLOW_RECIPES, PRESET_VALUES
from flowstudio.pointclouds.schema import PointCloudSettings

MODELS = ("pointflow", "cnf", "realnvp", "glow", "maf", "nsf", "nsf_ar", "nice", "planar")
PRESETS = ("quick", "full")
CNF_MODELS = ("pointflow", "cnf")
MAX_WIDTH = 16384
"""The widest hidden layer accepted (a wider one would exhaust memory, not train)."""
DISCRETE = ("realnvp", "glow", "maf", "nsf", "nsf_ar", "nice", "planar")

HYPERPARAMETERS: list[Param] = [
    *params_of(PointCloudSettings),
    # the engine's options (flowstudio.training.options.TrainOptions)
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
_SPLINE_ONLY = {"bins", "tail_bound"}
_SINGLE_SHAPE_ONLY = {"shape_index"}
SPLINE_MODELS = ("nsf", "nsf_ar")

def applies_to(param: Param, model_name: str) -> bool:
    """Whether ``param`` means anything for ``model_name``."""
    name = param.name
    if name in _POINTFLOW_ONLY:
        return model_name == "pointflow"
    if name in _CNF_ONLY:
        return model_name in CNF_MODELS
    if name in _DISCRETE_ONLY:
        return model_name in DISCRETE
    if name in _SPLINE_ONLY:
        return model_name in SPLINE_MODELS
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
    return resolve_values(HYPERPARAMETERS, _preset(model_name, preset, objective))


def _preset(model_name: str, preset: str, objective: str | None) -> dict[str, Any]:
    """What ``preset`` changes from the schema's defaults for ``model_name``."""
    check_model(model_name)
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    family = model_name if model_name in CNF_MODELS else "discrete"
    values = dict(PRESET_VALUES[preset][family])
    if model_name == "pointflow":
        recipes = POINTFLOW_RECIPES[preset]
        values.update(recipes.get(str(objective), next(iter(recipes.values()))))
    if model_name == "planar":
        values["flow_layers"] = 32 if preset == "quick" else 64
    return values


def resolve(model_name: str, preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset values with ``overrides`` applied, each checked against its :class:`Param`;
    an unknown name is refused with the list of valid ones."""
    preset_changes = _preset(model_name, preset, (overrides or {}).get("objective"))
    return resolve_values(HYPERPARAMETERS, preset_changes, overrides)


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
