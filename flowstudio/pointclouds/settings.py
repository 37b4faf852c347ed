"""The point-cloud models' hyperparameters: each model's own, presets, resolving.

:data:`HYPERPARAMETERS` are the :class:`~flowstudio.params.Param` s of the schema
(:class:`~flowstudio.pointclouds.schema.PointCloudSettings`, then the engine's options,
:class:`flowstudio.params.EngineSettings`), from which the window builds its form and
``flowstudio points train --set key=value`` checks values. Which model reads a setting is
declared by its schema field (``models``): :func:`hyperparameters` is a model's form and
:func:`read_by` the values its config is made from. :func:`resolve` merges a preset with
the user's overrides into one flat dict of validated values.

The presets themselves live in :mod:`flowstudio.pointclouds.presets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import Param, engine_params, params_of
from flowstudio.params import resolve as resolve_values
from flowstudio.pointclouds.presets import PRESET_VALUES, RECIPES
from flowstudio.pointclouds.schema import CNF_MODELS, MODELS, PointCloudSettings

PRESETS = ("quick", "full")

HYPERPARAMETERS: list[Param] = [
    *params_of(PointCloudSettings),
    # the engine's options (flowstudio.training.options.TrainOptions)
    *engine_params(samples_of="Clouds", lr=2e-3, samples_n=4, samples_every_s=5.0, validate_every=100),
]

BY_NAME: dict[str, Param] = {p.name: p for p in HYPERPARAMETERS}
ENGINE_OPTIONS = tuple(p.name for p in HYPERPARAMETERS if p.group == "engine")


def read_by(model_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a run's ``values`` that ``model_name`` reads (as each setting's schema
    field declares): what its config is made from (:func:`flowstudio.params.config_from`)."""
    return {k: v for k, v in values.items() if k in BY_NAME and BY_NAME[k].read_by(model_name)}


def refuse_unread(model_name: str, overrides: Mapping[str, Any]) -> None:
    """Refuse a setting the user gave that ``model_name`` does not read (it would be recorded
    and silently ignored), naming the models that do read it."""
    for name in overrides:
        param = BY_NAME.get(name)
        if param is not None and not param.read_by(model_name):
            raise BadInputError(
                f"hyperparameter {name!r} is not read by the {model_name!r} model; "
                f"it is read by {', '.join(param.models or ())}"
            )


def keys_by_models() -> str:
    """The settings' names grouped by the models that read them, for ``--set``'s help."""
    groups: dict[tuple[str, ...] | None, list[str]] = {}
    for param in HYPERPARAMETERS:
        groups.setdefault(param.models, []).append(param.name)
    return "; ".join(
        f"{'every model' if models is None else ', '.join(models)}: {', '.join(names)}"
        for models, names in groups.items()
    )


def hyperparameters(model_name: str) -> list[Param]:
    """The parameters ``model_name`` reads: its form, and its keys in ``--set``'s help."""
    check_model(model_name)
    return [p for p in HYPERPARAMETERS if p.read_by(model_name)]


def check_model(model_name: str) -> str:
    if model_name not in MODELS:
        raise BadInputError(f"unknown point-cloud model {model_name!r}; choose one of {', '.join(MODELS)}")
    return model_name


def preset_values(model_name: str, preset: str, objective: str | None = None) -> dict[str, Any]:
    """Every parameter's value under ``preset`` for ``model_name``; for PointFlow and the
    single-shape CNF, the recipe of ``objective`` (default: the preset's own, see
    ``presets.RECIPES``)."""
    return resolve_values(HYPERPARAMETERS, _preset(model_name, preset, objective))


def objective_values(model_name: str, preset: str, objective: str) -> dict[str, Any]:
    """What choosing ``objective`` sets under ``preset``: every setting that a recipe of the
    model touches, at the value of ``objective``'s recipe (the same as ``--set
    objective=...`` on the CLI); empty for models without recipes or an unknown objective."""
    recipes = RECIPES.get(model_name, {}).get(preset, {})
    if objective not in recipes:
        return {}
    values = preset_values(model_name, preset, objective)
    return {key: values[key] for recipe in recipes.values() for key in recipe}


def _preset(model_name: str, preset: str, objective: str | None) -> dict[str, Any]:
    """What ``preset`` changes from the schema's defaults for ``model_name``."""
    check_model(model_name)
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    family = model_name if model_name in CNF_MODELS else "discrete"
    values = dict(PRESET_VALUES[preset][family])
    if model_name in RECIPES:
        recipes = RECIPES[model_name][preset]
        values.update(recipes.get(str(objective), next(iter(recipes.values()))))
    if model_name == "planar":
        values["flow_layers"] = 32 if preset == "quick" else 64
    return values


def resolve(model_name: str, preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset values with ``overrides`` applied, each checked against its :class:`Param`;
    an unknown name is refused with the list of valid ones."""
    preset_changes = _preset(model_name, preset, (overrides or {}).get("objective"))
    return resolve_values(HYPERPARAMETERS, preset_changes, overrides)
