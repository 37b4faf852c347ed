"""Train FlowStudio's small pretrained demo models on the BUILT-IN data sets only.

    python samples/make_models.py [--minutes 6] [--only points|molecules]

writes run folders under ``samples/models/`` that the window opens at start-up (a new user
explores a trained model at once, then trains their own) and that the CLI accepts:

    flowstudio points sample --run samples/models/points-pointflow --out demo.ply
    flowstudio mols sample --run samples/models/molecules-graphaf --out demo.smi

* ``points-pointflow``: PointFlow, ``quick`` preset, on ``samples/pointclouds/shapes.npz``
  (200 procedural shapes in five classes);
* ``molecules-graphaf``: GraphAF, ``quick`` preset, on ``samples/molecules/moses_20k.smi``.

Each run keeps only its best checkpoint (no optimizer state), ``config.json`` and
``metrics.jsonl``, so a folder stays well under a few MB. Training is seeded, but CPU
timing decides how many steps fit in the budget, so two runs differ slightly.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
RUNS = {
    "points": ("points-pointflow", ["points", "train", "--data", str(HERE / "pointclouds" / "shapes.npz")]),
    "molecules": (
        "molecules-graphaf",
        ["mols", "train", "--data", str(HERE / "molecules" / "moses_20k.smi")],
    ),
}


def train(kind: str, minutes: float) -> Path:
    name, argv = RUNS[kind]
    out = MODELS / name
    if out.exists():
        shutil.rmtree(out)
    command = [sys.executable, "-m", "flowstudio", *argv, "--out", str(out), "--preset", "quick"]
    command += ["--minutes", f"{minutes:g}", "--iters", "0", "--seed", "0"]
    subprocess.run(command, check=True)
    latest, best = out / "checkpoints" / "latest.pt", out / "checkpoints" / "best.pt"
    if best.is_file():
        latest.unlink(missing_ok=True)  # the optimizer state is for resuming, not for a demo
    (out / ".lock").unlink(missing_ok=True)  # the run lock of a finished run
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {size / 1e6:.2f} MB")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget of each model")
    parser.add_argument("--only", choices=sorted(RUNS), help="train one of the two")
    args = parser.parse_args()
    MODELS.mkdir(exist_ok=True)
    for kind in [args.only] if args.only else list(RUNS):
        train(kind, args.minutes)


if __name__ == "__main__":
    main()
