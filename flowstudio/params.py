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
