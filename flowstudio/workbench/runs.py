"""The runs on disk, as the runs panel lists them: what each one trained, how far, how well,
and whether it is still going.

A run folder is any folder with a ``config.json`` the engine wrote (see
:class:`flowstudio.training.runs.Run`). Its status:

- ``running``: a training holds its lock (:func:`~flowstudio.training.runlock.lock_held`),
  or, for a folder synced from another machine where no lock can be seen, its metrics log
  changed within :data:`FRESH_S` and does not end with the engine's ``finished`` record;
- ``finished`` (its budget was used up), ``stopped`` or ``failed``: what the log's
  ``finished`` record says; a log that ends without one belongs to a trainer that was killed
  (``stopped``; the folder keeps its last checkpoint).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError

FRESH_S = 300.0
"""A log written this recently belongs to a running trainer (when no lock says so)."""

STATUSES = ("running", "finished", "stopped", "failed")


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs panel."""

    path: Path
    kind: str  # "points" or "molecules"
    model: str
    data: str
    steps: int
    best_validation: float | None
    status: str  # one of STATUSES
    modified: float  # Unix seconds of the last write
    error: str | None = None

    def age_text(self, now: float | None = None) -> str:
        """How long ago the run last wrote: ``40 s``, ``12 min``, ``3 h``, ``2 d``."""
        seconds = max((time.time() if now is None else now) - self.modified, 0.0)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds / size:.0f} {unit}"
        return f"{seconds:.0f} s"


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a run folder (a folder with a ``config.json``)."""
    return (Path(path) / "config.json").is_file()


def check_run_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a run folder, or :class:`BadInputError` saying what it is instead."""
    from flowstudio.training.runs import read_config

    path = Path(path)
    if not path.is_dir():
        raise BadInputError(f"{path}: no such run folder")
    config = read_config(path)  # says "not a run folder (no config.json)"
    if config.get("kind") not in ("points", "molecules"):
        raise BadInputError(f"{path}: not a FlowStudio run (config.json names no kind)")
    return path


def summarize(path: str | os.PathLike[str], now: float | None = None) -> RunSummary:
    """The panel's row for the run folder ``path``; :class:`BadInputError` when it is not one."""
    from flowstudio.training.runlock import lock_held
    from flowstudio.training.runs import Run, read_config, read_metrics

    path = check_run_folder(path)
    config = read_config(path)
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    records = read_metrics(path)
    steps = max((int(r.get("step", 0)) for r in records), default=0)
    validations = [float(r["validation"]) for r in records if isinstance(r.get("validation"), int | float)]
    finite = [v for v in validations if math.isfinite(v)]
    last = records[-1] if records else {}
    run = Run(path)
    modified = max((p.stat().st_mtime for p in (run.metrics_path, run.config_path, run.latest) if p.exists()),
                   default=0.0)
    now = time.time() if now is None else now
    ended = last.get("event") == "finished"
    if lock_held(path) or (not ended and records and now - modified < FRESH_S):
        status = "running"
    elif not ended:
        status = "stopped"
    else:
        status = {"iterations": "finished", "minutes": "finished", "stopped": "stopped"}.get(
            str(last.get("reason")), "failed"
        )
    data = task.get("data_path") or task.get("data") or ""
    return RunSummary(
        path=path, kind=str(config.get("kind")),
        model=str(config.get("model_name") or task.get("model_name")),
        data=Path(str(data)).name if data else "", steps=steps,
        best_validation=min(finite) if finite else None, status=status, modified=modified,
        error=last.get("error") if status == "failed" else None,
    )


def scan(folders: Iterable[str | os.PathLike[str]], now: float | None = None) -> list[RunSummary]:
    """Every run folder in ``folders`` (each a run itself, or holding runs one level down),
    newest first; folders that are gone or unreadable are passed over."""
    seen: set[Path] = set()
    rows = []
    for folder in folders:
        folder = Path(folder)
        try:
            inside = [folder] if is_run_folder(folder) else sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError:
            continue
        for candidate in inside:
            key = candidate.resolve()
            if key in seen or not is_run_folder(candidate):
                continue
            seen.add(key)
            try:
                rows.append(summarize(candidate, now))
            except (BadInputError, OSError):
                continue
    return sorted(rows, key=lambda row: row.modified, reverse=True)


@dataclass(frozen=True)
class RunSettings:
    """How a run was trained, for the model panel of a reopened run."""

    preset: str | None
    values: dict[str, Any]
    data_path: Path | None


def run_settings(path: str | os.PathLike[str]) -> RunSettings:
    """The preset, hyperparameter values and data file recorded in a run's ``config.json``."""
    from flowstudio.training.runs import read_config

    task = read_config(path).get("task")
    task = task if isinstance(task, dict) else {}
    values = task.get("values") if isinstance(task.get("values"), dict) else {}
    data = task.get("data_path")
    preset = task.get("preset")
    return RunSettings(str(preset) if preset else None, dict(values), Path(data) if data else None)


RUN_MARKS = ("config.json", "metrics.jsonl", "checkpoints")
"""What a run folder holds: a folder with any of them is meant as a run (not a folder of shapes)."""


def check_open_target(path: str | os.PathLike[str]) -> Path:
    """A path given to ``flowstudio PATH``: it exists, and a folder meant as a run is a
    readable one; else :class:`BadInputError` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    if path.is_dir() and any((path / mark).exists() for mark in RUN_MARKS):
        check_run_folder(path)
    return path
