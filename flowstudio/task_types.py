"""What a training task hands the engine: snapshots of samples, steps of final stages, and the
task kinds the engine packages register.

A leaf module (like :mod:`flowstudio.params`): the engine packages (``pointclouds``,
``molecules``) build these values and the training engine consumes them, and neither may
import the other's layer (see :mod:`flowstudio.training.protocol` for the Task contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from torch import Tensor, nn

SnapshotKind = Literal["points", "molecules"]


@dataclass(frozen=True)
class Snapshot:
    """A few samples for live display, copied off the device, and how they were drawn.

    Point clouds: ``points`` (K, P, 3) float32 in the data's own frame. Molecules:
    ``smiles`` (``None`` for a failed decode). ``temperature`` is the prior temperature the
    samples were drawn at (a molecule task draws at its ``temperature`` setting, 0.75 by
    default, and its samples must not be reported as drawn at 1).
    """

    kind: SnapshotKind
    temperature: float
    points: np.ndarray | None = None
    smiles: tuple[str | None, ...] | None = None

    @classmethod
    def of_points(cls, points: np.ndarray, temperature: float) -> Snapshot:
        """Point clouds (K, P, 3), copied as float32."""
        array = np.array(points, dtype=np.float32, copy=True)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(f"a point snapshot is (K, P, 3), got shape {array.shape}")
        return cls("points", float(temperature), points=array)

    @classmethod
    def of_molecules(cls, smiles: Sequence[str | None], temperature: float) -> Snapshot:
        """SMILES strings, ``None`` where a decode failed."""
        drawn = tuple(None if s is None else str(s) for s in smiles)
        return cls("molecules", float(temperature), smiles=drawn)


@dataclass(frozen=True)
class StageStep:
    """One step of a :class:`FinalStage`: loss terms for the engine to minimize (``"loss"``
    is the total; ``None`` for a step without gradients) and a log line (or ``None``)."""

    terms: dict[str, Tensor] | None = None
    line: str | None = None


class FinalStage(Protocol):
    """A last stage of a run (refitting a prior, calibrating on the model's own samples),
    run by the engine's own loop on the run's best weights, one :meth:`step` at a time, so
    that it stops, pauses and reports like training does.

    The engine minimizes each step's ``terms["loss"]`` over :meth:`parameters` with Adam at
    ``lr``; a non-finite loss ends the stage through :meth:`abandon`.
    """

    title: str | None
    """Announced when the stage starts (``None``: its steps speak for it)."""
    lr: float

    def parameters(self) -> list[nn.Parameter]:
        """What the stage optimizes (empty for a stage without gradients)."""
        ...

    def step(self) -> StageStep | None:
        """The next step; ``None`` once the stage is done."""
        ...

    def summary(self) -> str | None:
        """The log line when the stage ends (``None``: nothing to add)."""
        ...

    def abandon(self) -> str:
        """Undo the stage after a non-finite loss; the log line saying so."""
        ...


_TASK_KINDS: dict[str, str] = {}


def register_task_kind(kind: str, task_class: str) -> None:
    """Declare that checkpoints of ``kind`` are rebuilt by ``task_class``, given as
    ``"package.module:ClassName"`` and imported only when a checkpoint of that kind is opened.
    Each engine package registers its own kinds when it is imported (its ``__init__``)."""
    if _TASK_KINDS.get(kind, task_class) != task_class:
        raise ValueError(f"task kind {kind!r} is already registered to {_TASK_KINDS[kind]}")
    _TASK_KINDS[kind] = task_class


def registered_task_kinds() -> dict[str, str]:
    """Every registered kind and the task class that rebuilds it."""
    return dict(_TASK_KINDS)
