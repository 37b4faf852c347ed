"""Progress events: the small immutable messages a training run yields.

The engine (:mod:`flowstudio.training.engine`) yields these from a generator; the CLI
prints them with a progress bar and the GUI worker relays them as Qt signals. They hold
plain Python and copied numpy data only, never tensors or live model objects, so they can
cross threads safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Progress:
    """One optimization step finished.

    ``losses`` holds the scalar terms of the objective by name (``loss`` is the total,
    then e.g. ``nll``, ``kinetic``, ``jacobian``, ``prior``, ``entropy``), ``lr`` the
    learning rate. NFE counts are per step, averaged over the steps since the last event.
    """

    step: int
    total_steps: int | None
    elapsed_s: float
    eta_s: float | None
    steps_per_s: float
    losses: dict[str, float]
    lr: float
    nfe_forward: float | None = None
    nfe_backward: float | None = None


@dataclass(frozen=True)
class Samples:
    """A snapshot of samples for live display, copied off the training device.

    Point clouds: ``points`` is a float32 array (K, P, 3) in the data's own frame.
    Molecules: ``smiles`` is a tuple of SMILES strings (``None`` for a failed decode).
    """

    step: int
    kind: Literal["points", "molecules"]
    points: np.ndarray | None = None
    smiles: tuple[str | None, ...] | None = None
    temperature: float = 1.0


@dataclass(frozen=True)
class Checkpointed:
    """A checkpoint was written atomically to ``path``; ``best`` when it is the new best."""

    step: int
    path: Path
    best: bool
    metric: float | None = None


@dataclass(frozen=True)
class Recovered:
    """A non-finite loss or gradient was detected: the step was rolled back to the last good
    state and the learning rate lowered to ``new_lr``."""

    step: int
    reason: str
    new_lr: float


@dataclass(frozen=True)
class Message:
    """A human-readable note for a log panel (device chosen, data skipped, resumed, ...)."""

    text: str
    level: Literal["info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Finished:
    """The run ended. ``reason`` is ``iterations``, ``minutes``, ``stopped`` or ``error``."""

    step: int
    reason: Literal["iterations", "minutes", "stopped", "error"]
    run_dir: Path
    best_metric: float | None = None
    error: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


Event = Progress | Samples | Checkpointed | Recovered | Message | Finished
