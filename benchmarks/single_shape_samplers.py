"""How thick a single-shape model draws its shape under different samplers of its CNF.

A flow-matching CNF fitted to one shape learns a sharp field, and how it is integrated then
decides how thick the drawn surfaces are (``benchmarks/results/pointflow-matching.md``
section 16). For a run of ``flowstudio points train --model cnf``, this draws three clouds
of 2,048 points (sampling seeds 0, 1, 2) with each sampler and prints one JSON line with
each sampler's thickness (``pointflow_validation.thickness``: the mean surface variation of
16-point neighbourhoods, 0 on a plane) and the seconds the three draws took.

Samplers are written as in ``pointflow_validation.py``: ``run`` (the run's own), ``dopri5``,
``rk4:8`` (8 even steps) or ``rk4:8^2`` (8 steps at ``T (k / n)^2``, ``point_step_power``).

    flowstudio points train --data chairs.npz --model cnf --out RUNS/c0 --minutes 3 \
        --set shape_index=0 --set objective=flow_matching --set point_step_power=1
    python benchmarks/single_shape_samplers.py --run RUNS/c0 --samplers rk4:4,rk4:4^2,dopri5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from pointflow_validation import sampler, step_power, thickness

from flowstudio.pointclouds import analyses
from flowstudio.training import Run, restore_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a single-shape run folder")
    parser.add_argument("--samplers", default="rk4:4,rk4:4^2,rk4:8,rk4:8^2,dopri5")
    parser.add_argument("--checkpoint", default="latest", choices=("latest", "best"))
    args = parser.parse_args()
    task = restore_task(Run(args.run).checkpoint(args.checkpoint), kind="points", device="cpu").task
    out: dict = {"folder": str(args.run)}
    for spec in args.samplers.split(","):
        solver, steps, power = sampler(spec)
        start = time.perf_counter()
        with step_power(task.model, power):
            clouds = [
                analyses.sample(task, 1, 2048, 1.0, seed=s, solver=solver, steps=steps) for s in (0, 1, 2)
            ]
        out[spec] = {"thickness": round(thickness(np.concatenate(clouds)), 4),
                     "seconds": round(time.perf_counter() - start, 2)}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
