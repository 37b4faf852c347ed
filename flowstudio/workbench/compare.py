"""Run comparison: two or more runs of one kind, side by side (issue 15).

:func:`compare` reads each run folder (``config.json`` and ``metrics.jsonl``) and lines
them up: the loss curves by term (to overlay), the headline numbers (steps, best
validation, the last value of every loss term, status) and every setting, with a flag on
the settings whose values differ, which is what a user scans for first ("what did I change
between these two?").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.workbench.runs import RunSummary, run_settings, summarize


@dataclass(frozen=True)
class Comparison:
    runs: list[RunSummary]
    settings: list[tuple[str, list[str], bool]]  # name, one value per run, whether they differ
    numbers: list[tuple[str, list[str]]]  # name, one value per run
    curves: dict[str, list[tuple[list[float], list[float]]]]  # term → per run (steps, values)

    @property
    def names(self) -> list[str]:
        return [run.path.name for run in self.runs]


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def curves_of(path: str | os.PathLike[str]) -> dict[str, tuple[list[float], list[float]]]:
    """Each loss term's (steps, values) in a run's log."""
    from flowstudio.training.runs import read_metrics

    curves: dict[str, tuple[list[float], list[float]]] = {}
    for record in read_metrics(path):
        losses = record.get("losses")
        if not isinstance(losses, dict) or "step" not in record:
            continue
        for term, value in losses.items():
            if isinstance(value, int | float):
                steps, values = curves.setdefault(term, ([], []))
                steps.append(float(record["step"]))
                values.append(float(value))
    return curves


def compare(paths: Sequence[str | os.PathLike[str]]) -> Comparison:
    """Line up the runs in ``paths``: at least two, all of one kind (points or molecules)."""
    if len(paths) < 2:
        raise BadInputError(f"a comparison needs at least two runs, got {len(paths)}")
    runs = [summarize(p) for p in paths]
    kinds = sorted({run.kind for run in runs})
    if len(kinds) > 1:
        raise BadInputError(f"runs of one kind can be compared, these are {' and '.join(kinds)}")
    settings = [run_settings(run.path) for run in runs]
    keys = ["model", "preset", "data", *sorted({k for s in settings for k in s.values})]
    rows = []
    for key in keys:
        if key == "model":
            values = [run.model for run in runs]
        elif key == "preset":
            values = [_text(s.preset) for s in settings]
        elif key == "data":
            values = [s.data_path.name if s.data_path else "–" for s in settings]
        else:
            values = [_text(s.values.get(key)) for s in settings]
        rows.append((key, values, len(set(values)) > 1))
    per_run = [curves_of(run.path) for run in runs]
    terms = list(dict.fromkeys(term for curves in per_run for term in curves))
    curves = {term: [curves.get(term, ([], [])) for curves in per_run] for term in terms}
    numbers = [
        ("steps", [f"{run.steps:,}" for run in runs]),
        ("best validation", [_text(run.best_validation) for run in runs]),
        ("status", [run.status for run in runs]),
    ]
    numbers += [(f"last {term}", [_text(v[-1]) if v else "–" for _, v in curves[term]]) for term in terms]
    return Comparison(runs, rows, numbers, curves)
