"""The contract between the training engine and the models it trains.

The engine knows nothing of point clouds or molecules. Each engine package provides a
:class:`Task`: it owns the model, the data and the loss, and exposes them through this
small protocol. The engine owns everything generic: devices, seeds, the optimizer
loop, budgets, stop/pause, NaN rollback, checkpoints, the metrics log and events.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from flowstudio.params import Param
from flowstudio.task_types import Snapshot

__all__ = ["Param", "Snapshot", "Task"]


@runtime_checkable
class Task(Protocol):
    """A trainable model together with its data.

    Attributes:
        kind: ``"points"`` or ``"molecules"``; checkpoints record it so that a checkpoint
            of the wrong kind is refused with a clear message.
        model_name: e.g. ``"pointflow"``, ``"cnf"``, ``"realnvp"``, ``"graphaf"``.
        model: the ``nn.Module`` whose parameters are optimized and checkpointed.

    Optional, read with ``getattr``: ``cpu_threads`` (intra-op threads to train with on the
    CPU) and ``close()``, which the engine calls when a run ends, however it ends, to stop
    helpers the task started for training (GraphAF's batch-packing worker).
    """

    kind: str
    model_name: str
    model: nn.Module

    def config(self) -> dict[str, Any]:
        """The JSON-able configuration that rebuilds this task's model (hyperparameters,
        data normalization, vocabulary, ...). Stored in the run folder and checkpoints."""
        ...

    def to(self, device: torch.device) -> None:
        """Move the model and any cached tensors to ``device``."""
        ...

    def training_step(self, step: int) -> dict[str, Tensor]:
        """Draw a batch and return the loss terms as 0-dim tensors; ``"loss"`` is the total
        to minimize, the others are for display. Must not call ``backward``, and should not
        call ``.item()``: the engine fetches the terms once every ``log_every`` steps."""
        ...

    def nfe(self) -> tuple[float | None, float | None]:
        """Function evaluations of the last step (forward, backward); ``(None, None)`` for
        models without an ODE."""
        ...

    def validation_metric(self) -> float:
        """A held-out score, lower is better, used to keep the best checkpoint.

        The engine calls it every ``validate_every`` steps with the model in eval mode and
        the training random generators saved and restored around it. It is NOT wrapped in
        ``torch.no_grad()`` (a CNF's exact divergence needs autograd): use ``no_grad``
        yourself where you can. It has no side effects: scoring the model changes neither
        the model nor the task (work that must happen once training is done, such as a
        calibration, is a final stage, :mod:`flowstudio.training.stages`)."""
        ...

    def snapshot(self, n: int) -> Snapshot:
        """A few samples for live display, (K, P, 3) points in the data frame or SMILES, with
        the temperature they were drawn at (the task's own default).

        Called in eval mode under ``torch.no_grad()`` (use ``torch.enable_grad()`` inside if
        sampling needs autograd) with the training random generators saved and restored, so
        how often the display refreshes never changes the training trajectory."""
        ...

    def extra_state(self) -> dict[str, Tensor]:
        """Tensors beyond the model's ``state_dict`` that a checkpoint must hold (may be
        empty). Everything in a checkpoint is a tensor or JSON-able config."""
        ...

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`extra_state` returned; the tensors arrive on the CPU."""
        ...
