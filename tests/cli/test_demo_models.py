"""The shipped demo models (samples/models/, made by samples/make_models.py from the
built-in data sets) are small, trained, and accepted by ``flowstudio points|mols sample``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).resolve().parents[2] / "samples" / "models"
MAX_BYTES = 5_000_000


@pytest.mark.parametrize(
    ("run", "command"),
    [
        ("points-pointflow", ["points", "sample", "--shapes", "2", "--points", "256", "--out"]),
        ("molecules-graphaf", ["mols", "sample", "--n", "8", "--out"]),
    ],
)
def test_a_demo_run_is_small_trained_and_samples(run: str, command: list[str], tmp_path: Path) -> None:
    folder = MODELS / run
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < MAX_BYTES, f"{run} holds {size / 1e6:.1f} MB"
    config = json.loads((folder / "config.json").read_text())
    assert Path(config["task"]["data_path"]).parent.parent.name == "samples"  # the built-in data
    steps = [json.loads(line).get("step", 0) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) >= 100, "the demo was hardly trained"
    out = tmp_path / ("demo.npz" if run.startswith("points") else "demo.smi")
    argv = [sys.executable, "-m", "flowstudio", *command[:-1], "--run", str(folder), command[-1], str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if out.suffix == ".npz":
        with np.load(out) as data:
            assert data["points"].shape == (2, 256, 3) and np.isfinite(data["points"]).all()
    else:
        assert len([line for line in out.read_text().splitlines() if line and not line.startswith("#")]) == 8
