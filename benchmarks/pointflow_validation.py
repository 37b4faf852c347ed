"""Choose PointFlow settings on validation chairs, never on the test chairs.

The test protocol (``pointflow_matching.py``) holds out the first ``--test-shapes`` chairs
of a fixed permutation (seed 0). Tuning on them would make the test score optimistic, so
choices are made on the *next* 100 chairs of the same permutation instead:

* ``--write-split OUT.npz`` writes the tuning split: the same .npz format with both the
  test and the validation chairs marked ``test``, so a run trained on it
  (``flowstudio points train --data OUT.npz``) sees neither (675 of the 875 ModelNet chairs
  train);
* ``--run RUN`` scores a run's best checkpoint against the validation chairs only:
  100 samples of 2,048 points at each latent temperature ``L`` of ``--latent-temperatures``
  and point temperature ``P`` of ``--point-temperatures`` (latents and point noise drawn at
  ``L`` and ``P`` times their base spread, whatever the run was made with), one draw per
  sampling seed, compared on ``--points`` points by PointFlow's metrics (1-NNA-CD, COV-CD,
  MMD-CD). One JSON line per pair of temperatures, with the draws and their mean;
* ``--samplers rk4:2,rk4:4,dopri5`` scores the same weights with other solvers of the point
  CNF (``SOLVER:STEPS`` for fixed-step ones; ``run``, the default, is the run's own), each
  line with the seconds the first draw's 100 x 2,048 points took.

    python benchmarks/pointflow_validation.py --write-split RUNS/tuning.npz
    flowstudio points train --data RUNS/tuning.npz --out RUNS/a --preset quick --minutes 8
    python benchmarks/pointflow_validation.py --run RUNS/a --latent-temperatures 1.25,1.5

The data is read from ../shared/data (ModelNet, research use only) and never copied.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from pointflow_matching import CD_TILE_MB, DATA

from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.metrics import mmd_cov, one_nn_accuracy, pairwise_cd
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.training import Run, restore_task

TEST_SHAPES = 100
VAL_SHAPES = 100


def held_out(n: int, test_shapes: int = TEST_SHAPES) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the test chairs (``pointflow_matching.write_split``'s) and of the
    validation chairs after them in the same permutation."""
    order = np.random.default_rng(0).permutation(n)
    return order[:test_shapes], order[test_shapes : test_shapes + VAL_SHAPES]


def write_tuning_split(data: Path, out: Path) -> None:
    """The collection with the test and the validation chairs both marked ``test``."""
    points = np.load(data)["points"].astype(np.float32)
    split = np.array(["train"] * len(points), dtype="<U5")
    split[np.concatenate(held_out(len(points)))] = "test"
    np.savez(out, points=points, split=split)


def sampler(text: str) -> tuple[str | None, int | None]:
    """``run`` (the run's own solver), ``SOLVER`` (adaptive) or ``SOLVER:STEPS``."""
    if text == "run":
        return None, None
    solver, _, steps = text.partition(":")
    return solver, int(steps) if steps else None


def score(
    run: Path,
    val: np.ndarray,
    pairs: list[tuple[float, float]],
    seeds: list[int],
    points: int,
    samplers: tuple[str, ...] = ("run",),
) -> None:
    """Print one JSON line per sampler and (latent, point) temperature pair: each seed's
    draw, their mean and the seconds the first draw took."""
    task = restore_task(Run(run).checkpoint("best"), kind="points", device="cpu").task
    model = task.model
    assert isinstance(model, PointFlow)
    model.eval()
    # the temperatures asked for are the effective ones
    model.config.latent_temperature = model.config.point_temperature = 1.0
    keep = np.random.default_rng(1).choice(val.shape[1], points, replace=False)
    d_rr = pairwise_cd(val[:, keep], memory_mb=CD_TILE_MB)
    for (latent_temperature, point_temperature), name in (
        (pair, name) for name in samplers for pair in pairs
    ):
        solver, steps = sampler(name)
        rows, seconds = [], []
        for seed in seeds:
            torch.manual_seed(seed)
            start = time.perf_counter()
            with torch.no_grad():
                latent = model.sample_latent(len(val), latent_temperature)
            # with the latents given, the draw's temperature scales the point noise alone
            samples = analyses.sample(
                task, len(val), 2048, point_temperature, seed=seed, latent=latent, solver=solver, steps=steps
            )
            seconds.append(time.perf_counter() - start)
            samples = samples[:, keep]
            d_sr = pairwise_cd(samples, val[:, keep], memory_mb=CD_TILE_MB)
            mmd, cov = mmd_cov(d_sr)
            nna = one_nn_accuracy(d_rr, d_sr.T, pairwise_cd(samples, memory_mb=CD_TILE_MB))
            rows.append((nna, cov, float(mmd)))
        r = np.array(rows)
        print(
            json.dumps(
                {
                    "run": str(run),
                    "sampler": name,
                    "sample_s": round(seconds[0], 2),
                    "latent_temperature": latent_temperature,
                    "point_temperature": point_temperature,
                    "1-NNA-CD": r[:, 0].round(3).tolist(),
                    "COV-CD": r[:, 1].round(2).tolist(),
                    "mean": {
                        "1-NNA-CD": round(float(r[:, 0].mean()), 3),
                        "COV-CD": round(float(r[:, 1].mean()), 3),
                        "MMD-CD": round(float(r[:, 2].mean()), 5),
                    },
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--write-split", type=Path, default=None, help="write the tuning split here")
    parser.add_argument("--run", type=Path, action="append", default=[], help="a run to score (repeatable)")
    parser.add_argument("--latent-temperatures", default="1.0,1.25,1.5")
    parser.add_argument("--point-temperatures", default="1.0")
    parser.add_argument("--seeds", default="0,1,2", help="one draw of 100 samples per seed")
    parser.add_argument("--points", type=int, default=1024, help="points a cloud compared")
    parser.add_argument(
        "--samplers", default="run", help="point-CNF solvers: run, SOLVER or SOLVER:STEPS, comma-separated"
    )
    args = parser.parse_args()
    if args.write_split:
        write_tuning_split(args.data, args.write_split)
    if args.run:
        all_points = np.load(args.data)["points"].astype(np.float32)
        val = all_points[held_out(len(all_points))[1]]
        pairs = [
            (float(lt), float(pt))
            for lt in args.latent_temperatures.split(",")
            for pt in args.point_temperatures.split(",")
        ]
        for run in args.run:
            score(
                run,
                val,
                pairs,
                [int(x) for x in args.seeds.split(",")],
                args.points,
                tuple(args.samplers.split(",")),
            )


if __name__ == "__main__":
    main()
