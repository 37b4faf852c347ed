"""Shape anomaly detection by likelihood (issue 16): held-out ModelNet chairs against the
built-in procedural shapes that are not chairs.

A PointFlow run is trained on ModelNet chairs with ``--test-shapes`` of them held out (the
same fixed split as ``pointflow_matching.py``; ``--train`` trains it through the CLI, under
the bench lock when run as CONTRIBUTING.md says). Every score of
:mod:`flowstudio.pointclouds.scores` then rates the held-out chairs (in-distribution) and
the tables, lamps, mugs and airplanes of ``samples/pointclouds/shapes.npz``
(out-of-distribution), at ``--points`` points a shape, and the AUROC of each score is
printed for each CNF solver asked for. The baseline, measured in the same run, needs no
model: minus the Chamfer distance of a shape to its nearest training chair.

    flock /tmp/flowstudio-bench.lock python benchmarks/likelihood_scores.py --train \\
        --workdir /tmp/scores --minutes 8 --solvers own,dopri5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from pointflow_matching import write_split  # benchmarks/ is the script's folder

from flowstudio.flows.scoring import auroc, auroc_table
from flowstudio.pointclouds.analyses import point_solver
from flowstudio.pointclouds.metrics import pairwise_cd
from flowstudio.pointclouds.scores import SCORES, reference_scores, score_shapes
from flowstudio.training import Run, restore_task

ROOT = Path(__file__).resolve().parents[1]
CHAIRS = ROOT.parent / "shared" / "data" / "modelnet_chair_train_2048.npz"


def out_of_distribution(points: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """The built-in procedural shapes that are not chairs, resampled to ``points`` points."""
    arrays = np.load(ROOT / "samples" / "pointclouds" / "shapes.npz")
    keep = arrays["labels"] != "chair"
    return _subsample(arrays["points"][keep], points, seed), [str(n) for n in arrays["names"][keep]]


def _subsample(shapes: np.ndarray, points: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = [s[rng.choice(len(s), points, replace=len(s) < points)] for s in shapes]
    return np.stack(picks).astype(np.float32)


def nearest_chair_baseline(train: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> float:
    """AUROC of minus the Chamfer distance to the nearest training shape (no model)."""
    d_in = pairwise_cd(inside, train).min(dim=1).values.numpy()
    d_out = pairwise_cd(outside, train).min(dim=1).values.numpy()
    return auroc(-d_in, -d_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CHAIRS,
                        help="ModelNet chairs (points (N, P, 3))")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--test-shapes", type=int, default=100)
    parser.add_argument("--train", action="store_true",
                        help="train the run first (else reuse WORKDIR/pointflow)")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--points", type=int, default=256, help="points of each shape scored")
    parser.add_argument("--solvers", default="own,dopri5",
                        help="comma-separated: 'own' (the run's sampler) or a solver name such as dopri5")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    split = args.workdir / "chairs_split.npz"
    train, test = write_split(args.data, args.test_shapes, split)
    run_dir = args.workdir / "pointflow"
    if args.train:
        cmd = [sys.executable, "-m", "flowstudio", "points", "train", "--data", str(split),
               "--out", str(run_dir), "--minutes", f"{args.minutes:g}", "--seed", str(args.seed)]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    steps = Run(run_dir).checkpoint("best")
    task = restore_task(steps, kind="points", device="cpu").task
    inside = _subsample(test, args.points, args.seed)
    outside, _ = out_of_distribution(args.points, args.seed + 1)
    print(f"{len(train)} training chairs, {len(inside)} held-out chairs, {len(outside)} other shapes; "
          f"{args.points} points a shape", flush=True)

    t0 = time.perf_counter()
    baseline = nearest_chair_baseline(_subsample(train, args.points, args.seed + 2), inside, outside)
    rows = {"nearest training chair (Chamfer, no model)": ({"auroc_nearest_cd": baseline},
                                                             time.perf_counter() - t0)}
    for solver in args.solvers.split(","):
        t0 = time.perf_counter()
        with point_solver(task.model, None if solver == "own" else solver):
            reference = reference_scores(task, args.points, seed=args.seed)
            a = score_shapes(task, inside, reference=reference, seed=args.seed)
            b = score_shapes(task, outside, reference=reference, seed=args.seed)
        table = auroc_table(a.columns, b.columns)
        rows[f"PointFlow quick, solver {solver}"] = (table, time.perf_counter() - t0)
        print(json.dumps({solver: table}), flush=True)

    names = list(SCORES)
    print("\n| scorer | " + " | ".join(f"AUROC {n}" for n in names) + " | best | seconds |")
    print("|---|" + "---|" * (len(names) + 2))
    for label, (table, seconds) in rows.items():
        cells = [f"{table[f'auroc_{n}']:.3f}" if f"auroc_{n}" in table else "—" for n in names]
        best = max(table, key=table.get)
        if "auroc_nearest_cd" in table:
            cells = [f"{baseline:.3f} (baseline)"] + ["—"] * (len(names) - 1)
        print(f"| {label} | " + " | ".join(cells) + f" | {best} {table[best]:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
