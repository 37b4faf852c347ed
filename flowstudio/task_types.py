"""What a training task hands the engine: snapshots of samples, steps of final stages, and the
task kinds, declared as entry points, by which checkpoints are rebuilt.

A leaf module (like :mod:`flowstudio.params`): the engine packages (``pointclouds``,
``molecules``) build these values and the training engine consumes them, and neither may
import the other's layer (see :mod:`flowstudio.training.protocol` for the Task contract).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
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
    judged: bool
    """``True``: the stage's result replaces ``best.pt`` unless it validates worse (a stage
    that refits part of the model to the rest, or leaves the likelihood as it is).
    ``False``: it is the run's result whatever the validation says, because it trades some
    likelihood for something the metric does not score (reflow: straight, few-step paths)."""
    on_stop: bool
    """``True``: the stage runs after a user's Stop too, to its end, because the model is
    not usable without it (GraphAF's END calibration: a run stopped after 400 quick steps
    draws 40% of its molecules at the size cap without it, 0.8% with it). ``False``: a
    stopped run skips it (the other stages improve a model that already works)."""

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


TASK_ENTRY_POINTS = "flowstudio.tasks"
"""The entry-point group that declares task kinds: ``kind = "package.module:TaskClass"``.

FlowStudio's own engines declare theirs in ``pyproject.toml``; another distribution can add
a kind the same way, and its checkpoints are then rebuilt without an edit here."""

_TASK_KINDS: dict[str, str] = {}


def register_task_kind(kind: str, task_class: str) -> None:
    """Add, for this process, that checkpoints of ``kind`` are rebuilt by ``task_class``,
    given as ``"package.module:ClassName"`` (for a task not installed as a distribution: a
    test's, a script's). A kind already declared or registered to another class is refused."""
    known = registered_task_kinds().get(kind, task_class)
    if known != task_class:
        raise ValueError(f"task kind {kind!r} is already registered to {known}")
    _TASK_KINDS[kind] = task_class


def registered_task_kinds() -> dict[str, str]:
    """Every task kind and the task class that rebuilds it: those the installed
    distributions declare (:func:`declared_task_kinds`), then those registered in this
    process. A class is named, not imported: its module loads when a checkpoint of its kind
    is opened."""
    return {**declared_task_kinds(), **_TASK_KINDS}


@functools.cache
def declared_task_kinds() -> dict[str, str]:
    """The kinds in the :data:`TASK_ENTRY_POINTS` group of every installed distribution.

    When FlowStudio itself is not installed (its source tree on ``PYTHONPATH``), or its
    installed metadata predates the group (an editable install made before the group was
    added, until ``./dev`` reinstalls it), its own kinds are read from the
    ``pyproject.toml`` beside the package instead: the same table, so the engines' kinds
    are written once, there, and the window and the CLI still open their checkpoints.
    """
    kinds = {ep.name: ep.value for ep in metadata.entry_points(group=TASK_ENTRY_POINTS)}
    try:
        own = metadata.distribution("flowstudio").entry_points
        declared = any(ep.group == TASK_ENTRY_POINTS for ep in own)
    except metadata.PackageNotFoundError:
        declared = False
    if not declared:
        kinds = {**source_tree_task_kinds(), **kinds}
    return kinds


def source_tree_task_kinds(pyproject: Path | None = None) -> dict[str, str]:
    """The task kinds FlowStudio's ``pyproject.toml`` declares (default: the one beside
    this package in a source tree; none when there is no such file)."""
    path = pyproject or Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    if project.get("name") != "flowstudio":
        return {}
    return dict(project.get("entry-points", {}).get(TASK_ENTRY_POINTS, {}))
