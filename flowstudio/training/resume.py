"""Which checkpoint a resumed run starts from, and what the user changed since.

A run resumes from the newest checkpoint that loads: ``latest.pt`` (written every
``checkpoint_every`` steps or ``checkpoint_every_s`` seconds) or ``best.pt`` (written at
validations, without the optimizer), so a process killed before its first ``latest.pt``,
or one whose ``latest.pt`` was damaged, still resumes instead of losing the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from flowstudio.errors import CheckpointError
from flowstudio.training.checkpoint import Checkpoint
from flowstudio.training.options import TrainOptions
from flowstudio.training.schedule import set_base_lr


def newest_readable(candidates: list[Path], read: Callable[[Path], Checkpoint]) -> tuple[Checkpoint, str]:
    """The checkpoint of the highest step among ``candidates`` that ``read`` loads (the
    first of equals: ``latest.pt``, which holds the optimizer), and a note (``"; …"``, or
    empty) naming any that could not be read. :class:`CheckpointError` when none loads."""
    loaded, problems = [], []
    for path in candidates:
        try:
            loaded.append(read(path))
        except CheckpointError as exc:
            problems.append(str(exc))
    if not loaded:
        raise CheckpointError(f"no checkpoint to resume from: {'; '.join(problems)}")
    ckpt = max(loaded, key=lambda c: c.step)  # max keeps the first of equals
    notes = [f"skipped {p}" for p in problems]
    if ckpt.optimizer_state is None:
        notes.append("no optimizer state in it: AdamW's moments start afresh")
    return ckpt, "".join(f"; {n}" for n in notes)


def apply_changed_optimizer_options(
    optimizer: torch.optim.Optimizer, options: TrainOptions, engine_state: dict[str, Any]
) -> str:
    """The optimizer state restores the saved learning rate (lowered by any rollbacks);
    a learning rate or weight decay the user changed since the run was saved wins.
    Returns a note (``"; …"``, or empty) on what changed."""
    saved_lr, saved_decay = engine_state.get("base_lr"), engine_state.get("weight_decay")
    notes = []
    if saved_lr is not None and float(saved_lr) != options.lr:
        set_base_lr(optimizer, options.lr)
        notes.append(f"learning rate {float(saved_lr):.3g} -> {options.lr:.3g}")
    if saved_decay is not None and float(saved_decay) != options.weight_decay:
        for group in optimizer.param_groups:
            group["weight_decay"] = options.weight_decay
        notes.append(f"weight decay {float(saved_decay):.3g} -> {options.weight_decay:.3g}")
    return f"; {', '.join(notes)}" if notes else ""
