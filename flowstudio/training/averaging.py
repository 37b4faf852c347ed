"""An exponential moving average of the weights (Polyak & Juditsky 1992), kept beside training.

With ``weight_average = d`` the engine keeps, after every optimizer step ``t``,

    a_t = beta_t a_{t-1} + (1 - beta_t) w_t,    beta_t = min(d, (1 + t) / (10 + t)),

over the floating-point entries of the model's ``state_dict`` (``beta_t`` starts small so
that the first weights do not linger; about ``1 / (1 - d)`` steps are averaged once it
reaches ``d``). Training itself still steps the raw weights ``w``; what the run *uses* is
the average: validation scores it, ``best.pt`` and ``latest.pt`` hold it as their model,
the live samples and the final stages draw from it. ``latest.pt`` also keeps the raw
weights (``engine_state["training_weights"]``) so that a resume continues the same
trajectory; resumed with the option off, training goes on from the average.

At a constant learning rate the last weights carry Adam's step noise, which an average of
the last hundred or so steps smooths without slowing training. For GraphAF's quick preset
after 2,000 steps, 0.99 lowered FCD from 5.37 to 4.82 and left Filters where it was
(0.9555 -> 0.9535), so the presets leave it off (``benchmarks/results/graphaf.md``,
section 12.1); PointFlow's flow matching gained nothing from it at 8 minutes
(``pointflow-matching.md``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from flowstudio.training.checkpoint import Checkpoint

TRAINING_WEIGHTS = "training_weights"
"""The key of the raw weights in ``latest.pt``'s engine state."""


class WeightAverage:
    """The running average of a model's floating-point state (parameters and float buffers)."""

    def __init__(self, model: nn.Module, decay: float, updates: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight_average must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = updates
        state = model.state_dict()
        self.names = [k for k, v in state.items() if v.is_floating_point()]
        self.average = [state[k].detach().clone() for k in self.names]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (after an optimizer step)."""
        self.updates += 1
        beta = min(self.decay, (1 + self.updates) / (10 + self.updates))
        state = model.state_dict()
        torch._foreach_lerp_(self.average, [state[k].detach() for k in self.names], 1.0 - beta)

    def state_dict(self, model: nn.Module) -> dict[str, Tensor]:
        """The model's ``state_dict`` with the averaged entries in place of its own."""
        state = dict(model.state_dict())
        state.update(zip(self.names, self.average, strict=True))
        return state

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """The averaged weights in ``model`` for the block, its own back afterwards."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.state_dict(model))
        try:
            yield
        finally:
            model.load_state_dict(own)


class AveragingMixin:
    """The trainer's use of a :class:`WeightAverage` (mixed into the trainer of :mod:`.engine`;
    ``self.average`` is ``None`` when ``weight_average`` is 0)."""

    average: WeightAverage | None = None

    def _start_average(self: Any, resumed: Checkpoint | None) -> None:
        """Start the average (after a resume: the checkpoint's, with its raw weights back in
        the model, so that training continues where it was)."""
        decay = self.options.weight_average
        if not decay:
            return
        engine = resumed.engine_state if resumed is not None else {}
        raw = engine.get(TRAINING_WEIGHTS)
        self.average = WeightAverage(self.task.model, decay, updates=int(engine.get("average_updates", 0)))
        if isinstance(raw, dict):  # saved by an averaging run: model_state is the average
            self.task.model.load_state_dict(raw)

    def _averaged(self: Any) -> AbstractContextManager[None]:
        """The averaged weights in the model for a block (validation, live samples)."""
        return self.average.applied(self.task.model) if self.average is not None else nullcontext()

    def _states_to_save(self: Any, optimizer_too: bool) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """The model state a checkpoint holds (the average, when there is one) and the
        engine-state entries that go with it (the raw weights, where a resume needs them)."""
        model = self.task.model
        if self.average is None:
            return model.state_dict(), {}
        extra: dict[str, Any] = {"average_updates": self.average.updates}
        if optimizer_too:
            extra[TRAINING_WEIGHTS] = dict(model.state_dict())  # plain containers only
        return self.average.state_dict(model), extra

    def _settle_average(self: Any) -> None:
        """Put the average into the model for good (before the final stages: what they
        calibrate and score is the model the run hands over)."""
        if self.average is not None:
            self.task.model.load_state_dict(self.average.state_dict(self.task.model))
            self.average = None
