"""What the window asks of the training engine, without importing it before it is needed:
training options from the form, the training generator run on a worker thread (with its
progress thinned), the device list, a run's stop/pause control, and models rebuilt from
checkpoints.

Engine modules are imported on first use, which keeps the window's start fast (PyTorch and
RDKit load on a thread while the window shows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ENGINE_PARAMS = ("device",)
"""Engine options the window shows as its own widgets rather than in the form."""


def preload() -> None:
    """Import the engines of both data kinds (PyTorch, RDKit: seconds), e.g. on a thread
    while the window shows."""
    import flowstudio.molecules.task
    import flowstudio.pointclouds.task
    import flowstudio.training.engine  # noqa: F401


def training_options(values: dict[str, Any], device: str) -> Any:
    """The engine's :class:`TrainOptions` from the form's values (0 budgets mean none)."""
    from flowstudio.training.options import TrainOptions

    return TrainOptions.from_values(values, device=device)


def new_control() -> Any:
    """A run's pause/resume/stop switch, shared by the window and the engine's thread."""
    from flowstudio.training.control import Control

    return Control()


def train_events(task_factory: Callable[[], Any], run_dir: Path, options: Any, control: Any) -> Iterator[Any]:
    """Build the task (slow: networks, data normalization) and train it, on the worker thread."""
    import torch

    from flowstudio.training.engine import train
    from flowstudio.training.events import Message

    # leave a core to the window (never raise a limit someone else set)
    torch.set_num_threads(min(torch.get_num_threads(), max(1, (os.cpu_count() or 2) - 1)))
    task = task_factory()
    yield Message(f"{task.model_name}: {sum(p.numel() for p in task.model.parameters()):,} parameters")
    yield from train(task, run_dir, options, control)


def thin_progress(
    events: Iterator[Any], interval_s: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[Any]:
    """``events`` with at most one :class:`Progress` per ``interval_s``: a fast CPU run must
    not flood the window's event loop. A held-back progress is passed on before the next
    other event and at the end, so the last step shown is the last step done."""
    from flowstudio.training.events import Progress

    pending = None
    last_sent = -float("inf")
    for event in events:
        if isinstance(event, Progress):
            now = clock()
            if now - last_sent >= interval_s:
                yield event
                last_sent, pending = now, None
            else:
                pending = event
            continue
        if pending is not None:
            yield pending
            pending = None
        yield event
    if pending is not None:
        yield pending


def is_finished(event: object) -> bool:
    """Whether ``event`` is the run's last one (:class:`Finished`)."""
    from flowstudio.training.events import Finished

    return isinstance(event, Finished)


def copy_checkpoint(source: Path, target: Path) -> Path:
    """Copy the checkpoint ``source`` to ``target`` (``.pt`` added when it has no suffix),
    whole or not at all; :class:`BadInputError` says why it could not be written."""
    import shutil

    from flowstudio.errors import BadInputError
    from flowstudio.files import atomic_write

    target = Path(target)
    if target.suffix == "":
        target = target.with_suffix(".pt")
    try:
        with open(source, "rb") as data, atomic_write(target) as stream:
            shutil.copyfileobj(data, stream)
    except OSError as exc:
        raise BadInputError(f"Could not save the checkpoint to {target}: {exc.strerror or exc}") from None
    return target


def device_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every device a run can use, ``auto`` first."""
    from flowstudio.training.device import device_choices as choices

    return choices()
