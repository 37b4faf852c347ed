"""Training options shared by the CLI flags, the GUI's form and the engine."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import EngineSettings
from flowstudio.training.schedule import SCHEDULES


@dataclass
class TrainOptions:
    """How long and how a run trains; everything about the model lives in the task.

    Budgets: ``iters`` is the TOTAL number of optimization steps of the run (a resumed
    run counts on from its checkpoint); ``minutes`` is the wall-clock budget of this
    session, pauses excluded. Whichever is reached first ends the run; with neither, the
    run trains until stopped. ``samples_n = 0`` turns live samples off.

    ``latest.pt`` is written every ``checkpoint_every`` steps or ``checkpoint_every_s``
    seconds, whichever comes first (``0`` steps: by time only), so a process killed hard
    loses at most that much training (about 15 s of the quick presets on a CPU).

    On resume, the learning rate is the checkpoint's (it may have been lowered by NaN
    rollbacks) unless the user changed ``lr`` or ``weight_decay`` since. ``lr_schedule``
    follows the fraction of the budget used (:mod:`.schedule`). ``weight_average`` keeps an
    average of the weights that the run then uses (:mod:`.averaging`).

    The defaults and what each option means are :class:`flowstudio.params.EngineSettings`
    (the form's and ``--set``'s schema), where ``0`` stands for None (no limit).
    """

    iters: int | None = None
    minutes: float | None = None
    lr: float = EngineSettings.lr
    weight_decay: float = EngineSettings.weight_decay
    lr_schedule: str = EngineSettings.lr_schedule
    lr_final_factor: float = EngineSettings.lr_final_factor
    grad_clip: float | None = EngineSettings.grad_clip
    seed: int = EngineSettings.seed
    device: str = EngineSettings.device
    checkpoint_every: int = EngineSettings.checkpoint_every
    checkpoint_every_s: float = EngineSettings.checkpoint_every_s
    samples_every_s: float = EngineSettings.samples_every_s
    samples_n: int = EngineSettings.samples_n
    validate_every: int = EngineSettings.validate_every
    log_every: int = EngineSettings.log_every
    max_recoveries: int = EngineSettings.max_recoveries
    lr_decay_on_nan: float = EngineSettings.lr_decay_on_nan
    weight_average: float = EngineSettings.weight_average
    resume: bool = False

    @classmethod
    def from_values(cls, values: dict[str, Any], **overrides: Any) -> TrainOptions:
        """Options from a task's hyperparameter values (the form's or ``--set``'s), where
        ``0`` means "no limit" for ``iters``, ``minutes`` and ``grad_clip``; keys that are
        not engine options are ignored, ``overrides`` win."""
        names = set(cls.__dataclass_fields__)
        options = {k: v for k, v in {**values, **overrides}.items() if k in names}
        for name in ("iters", "minutes", "grad_clip"):
            if name in options and not options[name]:
                options[name] = None
        return cls(**options)

    def validate(self) -> TrainOptions:
        """Return ``self`` or raise :class:`BadInputError` naming the first bad option."""
        _check(self.iters is None or (isinstance(self.iters, int) and self.iters >= 0), "iters", ">= 0")
        _check(self.minutes is None or _positive(self.minutes), "minutes", "> 0")
        _check(_positive(self.lr), "lr", "> 0")
        _check(self.lr_schedule in SCHEDULES, "lr_schedule", f"one of {', '.join(SCHEDULES)}")
        _check(self.lr_schedule == "constant" or self.iters is not None or self.minutes is not None,
               "lr_schedule", "'constant' when the run has no budget (a schedule needs iters or minutes)")
        _check(_finite(self.lr_final_factor) and 0 <= self.lr_final_factor <= 1,
               "lr_final_factor", "in [0, 1]")
        _check(_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", ">= 0")
        _check(self.grad_clip is None or _positive(self.grad_clip), "grad_clip", "> 0 (or none)")
        _check(isinstance(self.seed, int) and self.seed >= 0, "seed", "an integer >= 0")
        _check(isinstance(self.checkpoint_every, int) and self.checkpoint_every >= 0,
               "checkpoint_every", ">= 0")
        _check(_finite(self.checkpoint_every_s) and self.checkpoint_every_s >= 0,
               "checkpoint_every_s", ">= 0")
        _check(_finite(self.samples_every_s) and self.samples_every_s >= 0, "samples_every_s", ">= 0")
        _check(isinstance(self.samples_n, int) and self.samples_n >= 0, "samples_n", ">= 0")
        _check(isinstance(self.validate_every, int) and self.validate_every >= 1, "validate_every", ">= 1")
        _check(isinstance(self.log_every, int) and self.log_every >= 1, "log_every", ">= 1")
        _check(isinstance(self.max_recoveries, int) and self.max_recoveries >= 0, "max_recoveries", ">= 0")
        _check(_finite(self.lr_decay_on_nan) and 0 < self.lr_decay_on_nan <= 1,
               "lr_decay_on_nan", "in (0, 1]")
        _check(_finite(self.weight_average) and 0 <= self.weight_average < 1,
               "weight_average", "in [0, 1) (0: off)")
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _finite(value) and value > 0


def _check(ok: bool, name: str, rule: str) -> None:
    if not ok:
        raise BadInputError(f"training option {name!r} must be {rule}")
