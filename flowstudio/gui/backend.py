"""What both workspaces need from the engines, in one Qt-free place: the data panel's
summary, training options from the form, the training generator run on the worker thread,
and models rebuilt from checkpoints.

Engine modules are imported on first use, which keeps the window's start fast (PyTorch and
RDKit load on a thread while the window shows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sample:
    """A built-in data set for the Samples menu."""

    key: str
    title: str
    path: Path
    description: str = ""


@dataclass
class DataInfo:
    """What the data panel shows about a loaded data set, plus the engine's own object."""

    name: str
    source: Path | None
    rows: list[tuple[str, str]]
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    data: Any = None


ENGINE_PARAMS = ("device",)
"""Engine options the window shows as its own widgets rather than in the form."""


def training_options(values: dict[str, Any], device: str) -> Any:
    """The engine's :class:`TrainOptions` from the form's values (0 budgets mean none)."""
    from flowstudio.training.options import TrainOptions

    return TrainOptions.from_values(values, device=device)


def train_events(task_factory, run_dir: Path, options: Any, control: Any) -> Iterator[Any]:
    """Build the task (slow: networks, data normalization) and train it, on the worker thread."""
    import torch

    from flowstudio.training.engine import train
    from flowstudio.training.events import Message

    # leave a core to the window (never raise a limit someone else set)
    torch.set_num_threads(min(torch.get_num_threads(), max(1, (os.cpu_count() or 2) - 1)))
    task = task_factory()
    yield Message(f"{task.model_name}: {sum(p.numel() for p in task.model.parameters()):,} parameters")
    yield from train(task, run_dir, options, control)


def device_choices() -> list[tuple[str, str]]:
    from flowstudio.training.device import device_choices as choices

    return choices()


def load_trained(path: Path, kind: str) -> Any:
    """Rebuild a trained model of ``kind`` from a checkpoint on the CPU; a checkpoint of
    another kind, a corrupt file or a foreign one raises :class:`CheckpointError` saying
    which it is (a :class:`~flowstudio.training.restore.RestoredTask`)."""
    from flowstudio.training.restore import restore_task

    return restore_task(path, kind=kind)
