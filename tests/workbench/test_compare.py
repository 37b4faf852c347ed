"""Comparing runs: settings that differ are flagged, curves and numbers line up, kinds
do not mix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowstudio.errors import BadInputError
from flowstudio.workbench.compare import compare


def make_run(root: Path, name: str, kind: str, lr: float, losses: list[float]) -> Path:
    run = root / name
    run.mkdir()
    task = {
        "model_name": "pointflow",
        "preset": "quick",
        "values": {"lr": lr, "latent_dim": 8},
        "data_path": "/d/shapes.npz",
    }
    (run / "config.json").write_text(json.dumps({"kind": kind, "model_name": "pointflow", "task": task}))
    records = [{"step": i + 1, "time": 1.0 + i, "losses": {"loss": v}} for i, v in enumerate(losses)]
    records.append({"step": len(losses), "validation": min(losses)})
    records.append({"step": len(losses), "event": "finished", "reason": "iterations"})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_two_runs_line_up_with_their_differences_flagged(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", "points", 1e-3, [3.0, 2.0, 1.5])
    b = make_run(tmp_path, "b", "points", 5e-4, [3.1, 2.5])
    result = compare([a, b])
    assert result.names == ["a", "b"]
    settings = {name: (values, differs) for name, values, differs in result.settings}
    assert settings["lr"] == (["0.001", "0.0005"], True)
    assert settings["latent_dim"][1] is False and settings["data"] == (["shapes.npz", "shapes.npz"], False)
    numbers = dict(result.numbers)
    assert numbers["steps"] == ["3", "2"] and numbers["last loss"] == ["1.5", "2.5"]
    assert result.curves["loss"][1] == ([1.0, 2.0], [3.1, 2.5])


def test_runs_of_different_kinds_or_a_single_run_are_refused(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", "points", 1e-3, [1.0])
    m = make_run(tmp_path, "m", "molecules", 1e-3, [1.0])
    with pytest.raises(BadInputError, match="one kind"):
        compare([a, m])
    with pytest.raises(BadInputError, match="at least two"):
        compare([a])
