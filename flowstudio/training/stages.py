"""Final stages: the last part of a run, run by the engine's own loop on the best weights.

A task may offer ``final_stages() -> list[FinalStage]`` (:mod:`flowstudio.task_types`):
PointFlow refits its latent prior to the encoder, GraphAF calibrates its END step on its own
samples. Once a run's budget is spent (or, for a stage marked ``on_stop``, once the user
stopped it), the engine writes ``latest.pt`` (resuming continues
the training itself), loads the best checkpoint's weights, and runs each stage one step at
a time as it runs training: it minimizes the step's loss over the stage's parameters (Adam
at the stage's ``lr``), checks the stop token between steps (a stage is short: a pause waits
for its end), and yields each log line as a
:class:`~flowstudio.training.events.Message`. The result is validated at the best step and
replaces ``best.pt`` unless it scores worse (a stage that refits part of the model to the
rest scores better; GraphAF's calibration leaves the likelihood as it is), or whatever it
scores for a stage that is not ``judged`` (reflow trades likelihood for straight paths). The
weights stay
in the task's model, so what the caller samples next is the run's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from flowstudio.task_types import FinalStage
from flowstudio.training.events import Event, Message

FINAL_STAGES = "final_stages"
"""The optional Task method that returns the run's final stages (an empty list: none)."""


def run_stage(stage: FinalStage, should_stop: Any = lambda: False) -> Iterator[str]:
    """Run ``stage`` to its end (or until ``should_stop()``), yielding its log lines.

    The loop the engine uses, also for running a stage on its own (a test, a script).
    """
    if stage.title:
        yield stage.title
    params = stage.parameters()
    optimizer = torch.optim.Adam(params, lr=stage.lr) if params else None
    while not should_stop():
        step = stage.step()
        if step is None:
            break
        if step.terms is not None and optimizer is not None:
            loss = step.terms["loss"]
            if not bool(torch.isfinite(loss.detach()).all()):
                yield stage.abandon()
                return
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if step.line:
            yield step.line
    summary = stage.summary()
    if summary:
        yield summary


class FinalStagesMixin:
    """The engine's part of final stages (mixed into the trainer of :mod:`.engine`)."""

    def _final_stages(self: Any, stopped: bool = False) -> Iterator[Event]:
        """Run the task's final stages; after a user's Stop only those marked ``on_stop``,
        each to its end (the stop token is already set)."""
        stages = getattr(self.task, FINAL_STAGES, None)
        stages = stages() if stages is not None else []
        if stopped:
            stages = [stage for stage in stages if stage.on_stop]
        if not stages:
            return
        final_step = self.step
        best = self.run_folder.best
        try:
            if best.exists():
                ckpt = self._read(best)
                if ckpt.step != self.step:
                    self._apply(ckpt, best, with_optimizer=False)
                    self.step = ckpt.step
                    yield Message(f"final stage on the best weights (step {ckpt.step})")
            ran, keep = False, False
            for stage in stages:
                for line in run_stage(stage, (lambda: False) if stopped else (lambda: self.control.stopped)):
                    ran = True
                    yield Message(line)
                keep = keep or (ran and not stage.judged)
            if ran:
                yield from self._validate(ties_win=True, keep=keep)
        finally:
            self.step = final_step
