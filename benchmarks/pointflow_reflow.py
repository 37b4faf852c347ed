"""Reflow (rectified flow's second stage) on a trained flow-matching PointFlow: few-step
samples before and after, on held-out ModelNet chairs.

Loads a run of ``pointflow_matching.py`` or ``pointflow_matching_ablation.py`` (its best
checkpoint and the split file in its work folder), scores 100 samples of 2,048 points with
each sampler of ``--samplers`` (the same latents and noise for all), runs
:class:`flowstudio.pointclouds.reflow.Reflow` for ``--reflow-steps`` steps on the training
chairs, and scores the same samplers again. Steps, not seconds, so that the load of a shared
machine does not change what is measured; the wall time is reported beside them.

    python benchmarks/pointflow_reflow.py --workdir RUNS --run base --reflow-steps 2000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from pointflow_matching_ablation import Scorer

from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.reflow import Reflow
from flowstudio.training import Run, restore_task
from flowstudio.training.stages import run_stage


def score_samplers(task, samplers: list[tuple[str, int]], scorer: Scorer, seed: int) -> dict[str, dict]:
    rows = {}
    for solver, steps in samplers:
        started = time.perf_counter()
        clouds = analyses.sample(task, len(scorer.test), 2048, seed=seed, solver=solver, steps=steps)
        rows[f"{solver}/{steps}"] = {**scorer(clouds), "sample_s": round(time.perf_counter() - started, 2)}
        print(f"  {solver}/{steps}: {rows[f'{solver}/{steps}']}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True, help="holds chairs_split.npz and the run")
    parser.add_argument("--run", required=True, help="the run folder's name in --workdir")
    parser.add_argument("--reflow-steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--teacher-steps", type=int, default=8, help="RK4 steps that make the pairs")
    parser.add_argument("--samplers", default="euler:1,euler:2,euler:4,midpoint:2,rk4:2")
    parser.add_argument("--eval-points", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    split = np.load(args.workdir / "chairs_split.npz")
    points, which = split["points"], split["split"]
    scorer = Scorer(points[which == "test"], args.eval_points)
    samplers = [(s.split(":")[0], int(s.split(":")[1])) for s in args.samplers.split(",")]
    task = restore_task(Run(args.workdir / args.run).checkpoint("best"), kind="points", device="cpu").task
    result = {"run": args.run, "reflow_steps": args.reflow_steps, "lr": args.lr}
    print("before reflow", flush=True)
    result["before"] = score_samplers(task, samplers, scorer, args.seed)
    train = torch.as_tensor(task.to_model_frame(points[which == "train"]))
    stage = Reflow(task.model, train, seconds=float("inf"), lr=args.lr, max_steps=args.reflow_steps,
                   teacher_steps=args.teacher_steps)
    started = time.perf_counter()
    task.model.train()
    for line in run_stage(stage):
        print(line, flush=True)
    task.model.eval()
    result["reflow_s"] = round(time.perf_counter() - started, 1)
    print(f"after reflow ({result['reflow_s']} s)", flush=True)
    result["after"] = score_samplers(task, samplers, scorer, args.seed)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
