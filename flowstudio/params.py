"""One hyperparameter as the GUI's form and the CLI's ``--set`` show it.

It lives outside the layers (like :mod:`flowstudio.errors`) because the engines in
``pointclouds/`` and ``molecules/`` list their parameters with it while the training layer
above them and the GUI read it; :mod:`flowstudio.training.protocol` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """One hyperparameter as the GUI's panel and the CLI show it.

    Each engine lists its models' parameters with :class:`Param` so that the window can
    build a form with tooltips (``help``) and ranges without knowing the model, and so
    that odd values are refused with a message that names the parameter and its range.
    """

    name: str
    default: float | int | bool | str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    group: str = "model"

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


def engine_params(*, samples_of: str, **defaults: float | int | str) -> list[Param]:
    """The training engine's options (``TrainOptions``) as :class:`Param` s, group ``"engine"``.

    Both engines show the same options in the window's form and accept them through
    ``--set``; only their defaults differ (``defaults`` overrides them by name) and what a
    live sample holds (``samples_of``: "Clouds", "Molecules").
    """
    params = [
        Param("lr", 1e-3, "Learning rate of AdamW.", minimum=1e-7, maximum=1.0),
        Param("weight_decay", 0.0, "AdamW weight decay.", minimum=0.0, maximum=1.0),
        Param("grad_clip", 10.0, "Clip the gradient norm to this value (0: no clipping).", minimum=0.0),
        Param("iters", 0, "Total optimization steps of the run (0: no limit).", minimum=0),
        Param("minutes", 0.0, "Wall-clock budget of this session in minutes (0: no limit).", minimum=0.0),
        Param("seed", 0, "Seed of every random generator.", minimum=0, maximum=2**63 - 1),
        Param(
            "device",
            "auto",
            "Where to train: 'auto' picks CUDA, then MPS, then the CPU.",
            choices=("auto", "cpu", "cuda", "mps"),
        ),
        Param("checkpoint_every", 100, "Steps between checkpoints (latest.pt), or sooner by "
              "checkpoint_every_s (0: by time only).", minimum=0),
        Param("checkpoint_every_s", 30.0, "Seconds between checkpoints (latest.pt), or sooner by "
              "checkpoint_every.", minimum=0.0),
        Param("samples_every_s", 5.0, "Seconds between live samples.", minimum=0.0),
        Param("samples_n", 4, f"{samples_of} in each live sample (0: none).", minimum=0, maximum=256),
        Param("validate_every", 100, "Steps between validations (best.pt keeps the best).", minimum=1),
        Param("log_every", 10, "Steps between progress reports.", minimum=1),
        Param("max_recoveries", 5, "Rollbacks after a non-finite loss before the run gives up.", minimum=0),
        Param(
            "lr_decay_on_nan", 0.5, "Factor on the learning rate at each rollback.", minimum=1e-3, maximum=1.0
        ),
    ]
    unknown = set(defaults) - {p.name for p in params}
    if unknown:
        raise ValueError(f"engine_params: no engine option named {sorted(unknown)}")
    return [
        Param(p.name, defaults.get(p.name, p.default), p.help, p.minimum, p.maximum, p.choices, "engine")
        for p in params
    ]
