"""Rebuild a trained model from a checkpoint: one path for the CLI and the window.

A checkpoint holds the task's JSON-able config and its tensors. Restoring it means:
load it safely (``weights_only=True``), check its kind, rebuild the task class of that
kind from the config, load the weights and the extra state, and move it to a device.
Whatever goes wrong is a :class:`~flowstudio.errors.CheckpointError` that names the file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError, CheckpointError
from flowstudio.task_types import registered_task_kinds
from flowstudio.training.checkpoint import load_checkpoint
from flowstudio.training.device import select_device


@dataclass(frozen=True)
class RestoredTask:
    """A task rebuilt from ``path`` with its trained weights, in eval mode."""

    task: Any
    path: Path
    step: int
    metric: float | None

    @property
    def model_name(self) -> str:
        return self.task.model_name


def task_class(kind: str) -> Any:
    """The Task class that rebuilds checkpoints of ``kind``, as the engines declare it
    (entry points of the ``flowstudio.tasks`` group, :mod:`flowstudio.task_types`); the
    class's module is imported on first use, so the training layer names no engine."""
    kinds = registered_task_kinds()
    if kind not in kinds:
        expected = " or ".join(repr(k) for k in sorted(kinds))
        raise CheckpointError(f"unknown checkpoint kind {kind!r}: expected {expected}")
    module, name = kinds[kind].split(":")
    return getattr(importlib.import_module(module), name)


def restore_task(
    path: str | Path, *, kind: str | None = None, model_name: str | None = None, device: str = "cpu"
) -> RestoredTask:
    """Load the checkpoint at ``path`` into a freshly built task on ``device``.

    ``kind`` / ``model_name``, when given, must match the checkpoint's, so that a molecule
    checkpoint opened in the point-cloud workspace is refused with a message saying so.
    """
    path = Path(path)
    checkpoint = load_checkpoint(path, expect_kind=kind, expect_model=model_name)
    try:
        task = task_class(checkpoint.kind).from_config(checkpoint.config)
        task.model.load_state_dict(checkpoint.model_state)
        task.load_extra_state(checkpoint.extra_state)
    except (BadInputError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CheckpointError(
            f"{path}: the weights do not fit the model its config describes: {reason}"
        ) from None
    task.to(select_device(device))
    task.model.eval()
    return RestoredTask(task, path, checkpoint.step, checkpoint.metric)
