"""An exponential moving average of a model's weights (Polyak & Juditsky 1992).

After every optimizer step ``t`` of the weights ``w``,

    a_t = beta_t a_{t-1} + (1 - beta_t) w_t,    beta_t = min(d, (1 + t) / (10 + t)),

over the floating-point entries of the model's ``state_dict`` (``beta_t`` starts small so
that the first weights do not linger; about ``1 / (1 - d)`` steps are averaged once it
reaches ``d``). A leaf module: the training engine keeps one beside a run
(:mod:`flowstudio.training.averaging`), and a task's final stage may keep its own
(:mod:`flowstudio.molecules.tilting`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


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
