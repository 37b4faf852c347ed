"""An exponential moving average of the weights (Polyak & Juditsky 1992), kept beside training.

With ``weight_average = d`` the engine keeps a
:class:`~flowstudio.weight_average.WeightAverage` of decay ``d`` (about the last
``1 / (1 - d)`` steps' weights). Training itself still steps the raw weights; what the run
*uses* is the average: validation scores it, ``best.pt`` and ``latest.pt`` hold it as their model,
the live samples and the final stages draw from it. ``latest.pt`` also keeps the raw
weights (``engine_state["training_weights"]``) so that a resume continues the same
trajectory; resumed with the option off, training goes on from the average.

At a constant learning rate the last weights carry Adam's step noise, which an average of
the last hundred or so steps smooths without slowing training. Both GraphAF presets keep
0.99: over three 8-minute user runs it took FCD from 3.55 to 2.90 on the mean, lower in
every seed (``benchmarks/results/graphaf.md``, section 20.2). PointFlow's flow matching
gained nothing from it (``pointflow-matching.md``, sections 6 and 17: 0.999 at 8 minutes
left the samples as thick as without).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from torch import Tensor

from flowstudio.training.checkpoint import Checkpoint
from flowstudio.weight_average import WeightAverage

TRAINING_WEIGHTS = "training_weights"
"""The key of the raw weights in ``latest.pt``'s engine state."""


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
