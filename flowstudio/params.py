"""One hyperparameter schema per model, as the window's form and the CLI's ``--set`` use it.

Each engine declares its settings once, as a dataclass whose fields carry their help, range
and group (:func:`setting`); :func:`params_of` turns the fields into :class:`Param` s (the
window's form, ``--set``'s checks, the run's recorded values) and :func:`resolve` merges a
preset with the user's overrides into one validated set of values. The training engine's own
options are :class:`EngineSettings`, shared by both engines with their own defaults.

It lives outside the layers (like :mod:`flowstudio.errors`) because the engines in
``pointclouds/`` and ``molecules/`` declare their schemas with it while the training layer
above them and the GUI read it; :mod:`flowstudio.training.protocol` re-exports ``Param``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

MOLECULE_TEMPERATURE = 0.75
"""The prior temperature molecules are drawn at unless a run or the user says otherwise
(GraphAF's paper samples at 0.6-0.75): the molecule ``temperature`` setting's default and
the window's before a run opens. Here, in a leaf module, because the window shows it before
the engines load."""

DEVICES = ("auto", "cpu", "cuda", "mps")
"""Where a run may train: the ``device`` setting's choices, the CLI's ``--device`` and what
:func:`flowstudio.training.device.select_device` names (it also takes ``cuda:N``)."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter as the GUI's panel and the CLI show it.

    Made from a schema's field by :func:`params_of`, so that the window can build a form
    with tooltips (``help``) and ranges without knowing the model, and so that odd values
    are refused with a message that names the parameter and its range.
    """

    name: str
    default: float | int | bool | str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    group: str = "model"
    models: tuple[str, ...] | None = None
    """The models that read this setting (``None``: every model of its engine)."""

    def read_by(self, model_name: str) -> bool:
        """Whether ``model_name`` reads this setting (the form shows it for that model only)."""
        return self.models is None or model_name in self.models

    def validate(self, value: Any) -> Any:
        """Coerce ``value`` to this parameter's type or raise ``BadInputError`` naming it."""
        from flowstudio.errors import BadInputError

        kind = type(self.default)
        try:
            if kind is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    value = value.lower() in ("true", "1", "yes")
                else:
                    value = bool(value)
            elif kind is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(value)
            elif kind is float:
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise BadInputError(
                f"hyperparameter {self.name!r} must be a {kind.__name__}, got {value!r}"
            ) from None
        if self.choices is not None and value not in self.choices:
            raise BadInputError(f"hyperparameter {self.name!r} must be one of {self.choices}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise BadInputError(f"hyperparameter {self.name!r} must be >= {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise BadInputError(f"hyperparameter {self.name!r} must be <= {self.maximum}, got {value!r}")
        return value


def setting(
    default: float | int | bool | str,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    group: str = "model",
    models: tuple[str, ...] | None = None,
) -> Any:
    """A field of a settings dataclass: its default with the help, range, group and the
    ``models`` that read it (``None``: all of the engine's) that :func:`params_of` gives its
    :class:`Param` (a ``dataclasses.field`` with metadata)."""
    metadata = {
        "help": help, "minimum": minimum, "maximum": maximum, "choices": choices, "group": group,
        "models": models,
    }
    return dataclasses.field(default=default, metadata=metadata)


def params_of(schema: type, **defaults: float | int | bool | str) -> list[Param]:
    """The :class:`Param` of each field of the settings dataclass ``schema``, in order.

    ``defaults`` replaces fields' defaults by name (how each engine gives the shared
    :class:`EngineSettings` its own). A field made without :func:`setting`, or with an
    empty help, is a programming error: every value the user can set is explained.
    """
    fields = dataclasses.fields(schema)
    unknown = set(defaults) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"{schema.__name__} has no setting named {sorted(unknown)}")
    params = []
    for f in fields:
        meta = f.metadata
        if not str(meta.get("help", "")).strip():
            raise TypeError(f"setting {schema.__name__}.{f.name} has no help: declare it with setting()")
        params.append(
            Param(
                f.name,
                defaults.get(f.name, f.default),  # type: ignore[arg-type]
                meta["help"],
                meta["minimum"],
                meta["maximum"],
                meta["choices"],
                meta["group"],
                meta["models"],
            )
        )
    return params


def resolve(
    params: Sequence[Param], preset: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every parameter's value: its default, then the ``preset``'s, then ``overrides``.

    Each value is checked by its :class:`Param` (a preset that names an unknown parameter
    is a programming error; an unknown override is refused with the list of valid names),
    so that both engines turn a preset and the user's settings into one validated config
    the same way.
    """
    from flowstudio.errors import BadInputError

    by_name = {p.name: p for p in params}
    values: dict[str, Any] = {p.name: p.default for p in params}
    for name, value in preset.items():
        if name not in by_name:
            raise KeyError(f"the preset sets {name!r}, which is no hyperparameter")
        values[name] = by_name[name].validate(value)
    for name, value in (overrides or {}).items():
        if name not in by_name:
            raise BadInputError(f"unknown hyperparameter {name!r}; valid names: {', '.join(sorted(by_name))}")
        values[name] = by_name[name].validate(value)
    return values


def from_setting(
    default: Any = dataclasses.MISSING,
    *,
    name: str | None = None,
    convert: Callable[[Any, str], Any] | None = None,
    optional: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A field of a model's config dataclass that reads the run's setting ``name`` (by default
    the field's own name), through ``convert(value, name)`` when given (e.g. widths written
    "64-64"); an ``optional`` one keeps its default for models that do not read the setting.
    A field declared plainly reads the setting of its own name; see :func:`config_from` and
    :func:`constant`."""
    metadata = {"setting": name, "convert": convert, "optional": optional}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def constant(default: Any) -> Any:
    """A field of a model's config dataclass that no setting changes (it keeps ``default``)."""
    return dataclasses.field(default=default, metadata={"setting": False})


C = TypeVar("C")


def config_from(config: type[C], values: Mapping[str, Any], **given: Any) -> C:
    """The model config ``config`` made from a run's setting ``values``: each field reads its
    setting (:func:`from_setting`; a plain field, the setting of its own name), except those
    in ``given`` (derived values, nested configs) and the :func:`constant` ones.

    ``values`` are those the model reads (the settings whose ``models`` name it), so a field
    that reads a setting its model does not declare is a programming error, raised here:
    which model reads which setting is written once, in the schema, and the config agrees.
    """
    unknown = set(given) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise TypeError(f"{config.__name__} has no field {sorted(unknown)}")
    kwargs = dict(given)
    for f in dataclasses.fields(config):
        if f.name in given or f.metadata.get("setting") is False:
            continue
        name = f.metadata.get("setting") or f.name
        if name not in values and f.metadata.get("optional"):
            continue
        if name not in values:
            raise KeyError(f"{config.__name__}.{f.name} reads the setting {name!r}, which its model "
                           "does not read")
        convert = f.metadata.get("convert")
        kwargs[f.name] = convert(values[name], name) if convert else values[name]
    return config(**kwargs)


LR_SCHEDULES = ("constant", "cosine")
"""The learning-rate schedules :mod:`flowstudio.training.schedule` knows."""


@dataclass(frozen=True)
class EngineSettings:
    """The training engine's options (:class:`flowstudio.training.options.TrainOptions`)
    as the form and ``--set`` show them, group ``"engine"``; ``0`` means "no limit" for
    ``iters``, ``minutes`` and ``grad_clip``. Each engine gives some its own default
    (:func:`engine_params`)."""

    lr: float = setting(1e-3, "Learning rate of AdamW.", minimum=1e-7, maximum=1.0, group="engine")
    weight_decay: float = setting(0.0, "AdamW weight decay.", minimum=0.0, maximum=1.0, group="engine")
    lr_schedule: str = setting(
        "constant",
        "How the learning rate changes over the budget (iters or minutes): 'constant', or 'cosine' "
        "from lr down to lr x lr_final_factor at the budget's end.",
        choices=LR_SCHEDULES,
        group="engine",
    )
    lr_final_factor: float = setting(
        0.05, "The cosine schedule's last rate, as a fraction of lr.", minimum=0.0, maximum=1.0,
        group="engine",
    )
    grad_clip: float = setting(
        10.0, "Clip the gradient norm to this value (0: no clipping).", minimum=0.0, group="engine"
    )
    iters: int = setting(0, "Total optimization steps of the run (0: no limit).", minimum=0, group="engine")
    minutes: float = setting(
        0.0, "Wall-clock budget of this session in minutes (0: no limit).", minimum=0.0, group="engine"
    )
    seed: int = setting(0, "Seed of every random generator.", minimum=0, maximum=2**63 - 1, group="engine")
    device: str = setting(
        "auto",
        "Where to train: 'auto' picks CUDA, then MPS, then the CPU.",
        choices=DEVICES,
        group="engine",
    )
    checkpoint_every: int = setting(
        100,
        "Steps between checkpoints (latest.pt), or sooner by checkpoint_every_s (0: by time only).",
        minimum=0,
        group="engine",
    )
    checkpoint_every_s: float = setting(
        30.0, "Seconds between checkpoints (latest.pt), or sooner by checkpoint_every.", minimum=0.0,
        group="engine",
    )
    samples_every_s: float = setting(5.0, "Seconds between live samples.", minimum=0.0, group="engine")
    samples_n: int = setting(
        4, "{samples_of} in each live sample (0: none).", minimum=0, maximum=256, group="engine"
    )
    validate_every: int = setting(
        100, "Steps between validations (best.pt keeps the best).", minimum=1, group="engine"
    )
    log_every: int = setting(10, "Steps between progress reports.", minimum=1, group="engine")
    max_recoveries: int = setting(
        5, "Rollbacks after a non-finite loss before the run gives up.", minimum=0, group="engine"
    )
    lr_decay_on_nan: float = setting(
        0.5, "Factor on the learning rate at each rollback.", minimum=1e-3, maximum=1.0, group="engine"
    )
    weight_average: float = setting(
        0.0,
        "Keep an exponential moving average of the weights with this decay (0.99: about the last 100 "
        "steps) and use it: validation, checkpoints, live samples and the final stages take the average, "
        "training steps the raw weights (0: off).",
        minimum=0.0,
        maximum=0.9999,
        group="engine",
    )


def engine_params(*, samples_of: str, **defaults: float | int | str) -> list[Param]:
    """:class:`EngineSettings` as :class:`Param` s with an engine's own ``defaults``, and
    what a live sample holds (``samples_of``: "Clouds", "Molecules")."""
    return [
        dataclasses.replace(p, help=p.help.format(samples_of=samples_of))
        for p in params_of(EngineSettings, **defaults)
    ]
