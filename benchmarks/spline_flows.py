"""Neural spline flows against RealNVP and MAF: held-out NLL of one chair's points at equal
training time (issue 16's goal for the spline flows).

One ModelNet chair (``--shape`` of ../shared/data/modelnet_chair_train_2048.npz, read there,
never copied): its 2048 points split into training points and held-out points the way the
application splits a single shape (``PointCloudTask``: ``test_fraction`` of the points,
seeded), normalized as the ``quick`` preset does (the shape's centre, its mean radius).
Each model (``nsf``, ``nsf_ar``, ``realnvp``, ``maf`` by default) is the single-shape model
of the ``quick`` preset, the same sizes for all (``flow_layers`` layers, conditioners of
width ``flow_hidden``), trained the way the engine trains it: AdamW at the preset's learning
rate, gradient norm clipped at the preset's value, a batch of ``train_points`` points a step.

**Equal training time** is a budget of ``--seconds`` of CPU time of the training thread
(``time.thread_time``, one torch thread), not of wall-clock time: on a machine shared with
other jobs the wall clock charges a model for the others' load, the thread's CPU time does
not. The wall-clock time is reported beside it. Held-out evaluations every ``--eval-every``
CPU seconds are not charged. Reported: the held-out NLL per point (nats, in the normalized
frame, so the models compare directly; lower is better) at the end of the budget and the
best along the way, the steps taken, and the difference to RealNVP and MAF.

    python benchmarks/spline_flows.py --seconds 90 --seed 0 --json a.json
    python benchmarks/spline_flows.py --report a.json b.json     # merge runs into one table
    python benchmarks/spline_flows.py --models nsf nsf:tail_bound=1.5   # other make_flow options

Run two seeds side by side, each pinned to its own core::

    taskset -c 0 python benchmarks/spline_flows.py --seed 0 --json s0.json &
    taskset -c 1 python benchmarks/spline_flows.py --seed 1 --json s1.json; wait
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowstudio.pointclouds.models import SingleShapeModel
from flowstudio.pointclouds.task import PointCloudTask

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "modelnet_chair_train_2048.npz"
MODELS = ("nsf", "nsf_ar", "realnvp", "maf")
BASELINES = ("realnvp", "maf")


def train_one(label: str, shape: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Train ``label`` (a model name, or ``name:key=value,...`` with extra make_flow options)
    for ``args.seconds`` of thread CPU time; return its held-out curve."""
    name, _, extra = label.partition(":")
    pairs = (item.split("=") for item in extra.split(",") if item)
    options = {k: int(v) if v.isdigit() else float(v) for k, v in pairs}
    torch.manual_seed(args.seed)
    overrides = {"seed": args.seed, "test_fraction": args.test_fraction, "flow_layers": args.layers,
                 "flow_hidden": args.hidden}
    task = PointCloudTask(shape, name, "quick", overrides)
    if options:  # the task builds the app's model; rebuild it with the extra options
        torch.manual_seed(args.seed)
        task.model = SingleShapeModel(name, num_layers=args.layers, hidden=args.hidden, **options)
    v = task.values
    params = [p for p in task.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=v["lr"], weight_decay=v["weight_decay"])
    cpu, steps, next_eval = 0.0, 0, 0.0
    curve: list[tuple[float, int, float]] = []
    wall_start = time.monotonic()
    while True:
        if cpu >= next_eval or cpu >= args.seconds:
            task.model.eval()
            curve.append((round(cpu, 2), steps, task.validation_metric()))
            next_eval += args.eval_every
            if cpu >= args.seconds:
                break
        started = time.thread_time()
        task.model.train()
        optimizer.zero_grad()
        loss = task.training_step(steps)["loss"]
        loss.backward()
        if v["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(params, v["grad_clip"])
        optimizer.step()
        cpu += time.thread_time() - started
        steps += 1
    nll = [c[2] for c in curve]
    return {
        "model": label, "seed": args.seed, "steps": steps, "cpu_s": round(cpu, 1),
        "wall_s": round(time.monotonic() - wall_start, 1), "final_nll": nll[-1],
        "best_nll": min(nll), "parameters": sum(p.numel() for p in params), "curve": curve,
        "train_points": int(v["train_points"]), "held_out_points": len(task.held_out()),
    }


def report(runs: list[dict[str, Any]]) -> str:
    """A markdown table: per model the mean (and each seed's) held-out NLL and its gaps."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_model.setdefault(r["model"], []).append(r)
    mean = {m: statistics.mean(r["final_nll"] for r in rs) for m, rs in by_model.items()}
    lines = [
        "| model | params | steps (mean) | CPU s | wall s (mean) | held-out NLL/point, end (per seed) "
        "| best along the way (mean) | vs realnvp | vs maf |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m, rs in by_model.items():
        seeds = ", ".join(f"{r['final_nll']:.3f}" for r in sorted(rs, key=lambda r: r["seed"]))
        gaps = [f"{mean[m] - mean[b]:+.3f}" if b in mean else "—" for b in BASELINES]
        lines.append(
            f"| {m} | {rs[0]['parameters']} | {statistics.mean(r['steps'] for r in rs):.0f} "
            f"| {rs[0]['cpu_s']:.0f} | {statistics.mean(r['wall_s'] for r in rs):.0f} "
            f"| **{mean[m]:.3f}** ({seeds}) | {statistics.mean(r['best_nll'] for r in rs):.3f} "
            f"| {gaps[0]} | {gaps[1]} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=90.0, help="CPU seconds of training per model")
    p.add_argument("--eval-every", type=float, default=10.0, help="CPU seconds between held-out scores")
    p.add_argument("--models", nargs="+", default=list(MODELS),
                   help="model names, or name:key=value for other make_flow options (nsf:tail_bound=1.5)")
    p.add_argument("--shape", type=int, default=0, help="which chair of the training file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", type=int, default=8, help="flow_layers of every model (the quick preset's)")
    p.add_argument("--hidden", type=int, default=64, help="flow_hidden of every model (the quick preset's)")
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--json", type=Path, help="write the runs here")
    p.add_argument("--report", type=Path, nargs="+", help="only merge these --json files into a table")
    args = p.parse_args()
    if args.report:
        runs = [r for path in args.report for r in json.loads(path.read_text())["runs"]]
        print(report(runs))
        return
    torch.set_num_threads(1)
    shape = np.load(DATA)["points"][args.shape].astype(np.float32)
    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, affinity {sorted(os.sched_getaffinity(0))}, "
               f"torch {torch.__version__}, 1 thread")
    runs = []
    for name in args.models:
        runs.append(train_one(name, shape, args))
        r = runs[-1]
        print(f"{name}: {r['steps']} steps in {r['cpu_s']} CPU s ({r['wall_s']} s wall), "
              f"held-out NLL/point {r['final_nll']:.4f} (best {r['best_nll']:.4f})", flush=True)
    print(report(runs))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "args": vars(args) | {"json": str(args.json)},
                                         "runs": runs}, indent=1, default=str))


if __name__ == "__main__":
    main()
