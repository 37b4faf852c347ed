"""PointFlow flow-matching choices at equal compute, on held-out ModelNet chairs.

A wall-clock comparison needs an idle machine; on a shared one the load changes from
minute to minute. This benchmark compares variants at equal *compute* instead, which the
load does not change:

1. ``cost``: the time of one training step of each variant relative to the first, measured
   in one process, variants alternating in rounds (one thread), so that every variant sees
   the same load. The ratios decide each variant's step budget.
2. ``train``: each variant trains through the CLI (the quick preset plus its settings) for
   ``--base-steps`` divided by its cost ratio, two at a time on one core each. The optimizer's
   steps are wrapped so that moving averages of the weights (decays ``--averages``) are kept
   beside the run and saved at its end: weight averaging is measured on the same runs,
   without building it into the engine first.
3. ``score``: 100 shapes of 2,048 points from the prior and the reconstructions of the
   held-out chairs (encoded, decoded) against the held-out chairs (1-NNA-CD, COV-CD, MMD-CD
   on ``--eval-points`` points). Reconstructions show what the encoder and point CNF can
   express at all; samples add the latent prior.

    python benchmarks/pointflow_matching_ablation.py --workdir RUNS --base-steps 3000 \\
        --variant base: --variant wide:point_hidden=128-128-128 --variant ot:coupling=ot

The split (100 chairs held out, seed 0) is the one of ``pointflow_matching.py``; the data is
read from ../shared/data (ModelNet, research use only) and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pointflow_matching import DATA, write_split

from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.metrics import mmd_cov, one_nn_accuracy, pairwise_cd
from flowstudio.pointclouds.settings import BY_NAME
from flowstudio.pointclouds.task import PointCloudTask
from flowstudio.training import Run, restore_task

TRACK_AVERAGES = """
import atexit, os, sys, torch
decays = [float(d) for d in os.environ["AVERAGES"].split(",") if d]
state = {}
step = torch.optim.AdamW.step
def tracked(self, *args, **kwargs):
    out = step(self, *args, **kwargs)
    params = [p.detach() for g in self.param_groups for p in g["params"]]
    if "optimizer" not in state:  # the run's own optimizer is the first one made
        state.update(optimizer=self, averages={d: [p.clone() for p in params] for d in decays})
    if state["optimizer"] is self:
        with torch.no_grad():
            for d, average in state["averages"].items():
                torch._foreach_lerp_(average, params, 1 - d)
    return out
torch.optim.AdamW.step = tracked
atexit.register(lambda: state and torch.save(state["averages"], os.environ["AVERAGES_OUT"]))
from flowstudio.__main__ import main
sys.exit(main())
"""


def overrides(sets: list[str]) -> dict[str, Any]:
    """``key=value`` settings typed by the schema (a string setting stays a string)."""
    out = {}
    for item in sets:
        key, value = item.split("=", 1)
        if key == "seed":
            continue
        default = BY_NAME[key].default
        out[key] = value if isinstance(default, str) else type(default)(value)
    return out


def step_costs(variants: list[tuple[str, list[str]]], split: Path, rounds: int = 5) -> dict[str, float]:
    """Seconds per training step of each variant (median over rounds, one thread)."""
    torch.set_num_threads(1)
    built = []
    for name, sets in variants:
        task = PointCloudTask(str(split), "pointflow", "quick", overrides(sets))
        task.to(torch.device("cpu"))
        built.append((name, task, torch.optim.AdamW(task.model.parameters(), lr=1e-3)))
    times: dict[str, list[float]] = {name: [] for name, _, _ in built}
    for r in range(rounds + 1):
        for name, task, optimizer in built:
            started = time.perf_counter()
            for i in range(10):
                optimizer.zero_grad()
                task.training_step(i)["loss"].backward()
                optimizer.step()
            if r:  # the first round warms up
                times[name].append((time.perf_counter() - started) / 10)
    return {name: float(np.median(t)) for name, t in times.items()}


def variant_seed(sets: list[str], default: int) -> int:
    """A variant's training and sampling seed: its ``seed=N`` item, else ``--seed``."""
    return next((int(item.split("=", 1)[1]) for item in sets if item.startswith("seed=")), default)


def train(
    variants: list[tuple[str, list[str]]], steps: dict[str, int], args: argparse.Namespace, split: Path
) -> None:
    pending = list(variants)
    while pending:
        batch, pending = pending[:2], pending[2:]
        procs = []
        for core, (name, sets) in enumerate(batch):
            cmd = [
                "taskset",
                "-c",
                str((core + args.first_core) % 2),
                sys.executable,
                "-c",
                TRACK_AVERAGES,
                "points",
                "train",
                "--data",
                str(split),
                "--out",
                str(args.workdir / name),
                "--preset",
                "quick",
                "--iters",
                str(steps[name]),
                "--minutes",
                "0",
                "--seed",
                str(variant_seed(sets, args.seed)),
            ]
            for item in sets:
                if not item.startswith("seed="):
                    cmd += ["--set", item]
            env = dict(
                os.environ,
                OMP_NUM_THREADS="1",
                MKL_NUM_THREADS="1",
                AVERAGES=args.averages,
                AVERAGES_OUT=str(args.workdir / f"{name}.averages.pt"),
            )
            log = open(args.workdir / f"{name}.log", "w")  # noqa: SIM115 - closed after the wait
            procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        for name, proc, log in procs:
            proc.wait()
            log.close()
            print(f"[{name}] exit {proc.returncode}", flush=True)


class Scorer:
    """PointFlow's metrics of 100 clouds against the held-out chairs on a fixed point subset."""

    def __init__(self, test: np.ndarray, points: int) -> None:
        self.test = test
        self.keep = np.random.default_rng(1).choice(test.shape[1], points, replace=False)
        self.d_rr = pairwise_cd(test[:, self.keep], memory_mb=64)

    def __call__(self, clouds: np.ndarray) -> dict[str, float]:
        d_sr = pairwise_cd(clouds[:, self.keep], self.test[:, self.keep], memory_mb=64)
        d_ss = pairwise_cd(clouds[:, self.keep], memory_mb=64)
        mmd, cov = mmd_cov(d_sr)
        return {
            "1-NNA-CD": round(one_nn_accuracy(self.d_rr, d_sr.T, d_ss), 3),
            "COV-CD": round(cov, 3),
            "MMD-CD": round(float(mmd), 5),
        }


@torch.no_grad()
def score(name: str, seed: int, args: argparse.Namespace, scorer: Scorer) -> dict[str, Any]:
    """The best checkpoint's samples and reconstructions, then each moving average's (its
    encoder and point CNF; the latent prior stays the run's final one)."""
    run = args.workdir / name
    task = restore_task(Run(run).checkpoint("best"), kind="points", device="cpu").task
    steps = max(json.loads(line).get("step", 0) for line in (run / "metrics.jsonl").read_text().splitlines())
    weights = {"best": None}
    averages_file = args.workdir / f"{name}.averages.pt"
    if averages_file.exists():
        for decay, average in torch.load(averages_file, weights_only=True).items():
            weights[f"average {decay}"] = average
    rows = {}
    for label, average in weights.items():
        if average is not None:
            task = restore_task(Run(run).checkpoint("latest"), kind="points", device="cpu").task
            for (param_name, param), value in zip(task.model.named_parameters(), average, strict=True):
                if not param_name.startswith("prior"):
                    param.copy_(value)
        samples = analyses.sample(task, args.eval_samples, 2048, seed=seed)
        held_out = analyses.sample(
            task, len(scorer.test), 2048, seed=seed, latent=analyses.encode(task, scorer.test)
        )
        rows[label] = {"steps": steps, "samples": scorer(samples), "reconstructions": scorer(held_out)}
        print(f"[{name} {label}] {json.dumps(rows[label])}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--variant", action="append", required=True,
        help="NAME:key=value,... (first: the base); seed=N trains and samples that variant with seed N",
    )
    parser.add_argument("--base-steps", type=int, default=3000, help="steps of the first variant")
    parser.add_argument(
        "--averages", default="0.995,0.999", help="moving-average decays to track ('' for none)"
    )
    parser.add_argument("--eval-samples", type=int, default=100)
    parser.add_argument("--eval-points", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--first-core", type=int, default=0, help="pin the first variant of a pair here")
    parser.add_argument(
        "--same-steps", action="store_true",
        help="give every variant --base-steps (variants whose step costs the same: a schedule, a weight)",
    )
    args = parser.parse_args()
    variants = [(v.split(":", 1)[0], [s for s in v.split(":", 1)[1].split(",") if s]) for v in args.variant]
    args.workdir.mkdir(parents=True, exist_ok=True)
    split = args.workdir / "chairs_split.npz"
    _, test = write_split(args.data, 100, split)
    results: dict[str, Any] = {}
    if not args.score_only:
        costs = {name: 1.0 for name, _ in variants} if args.same_steps else step_costs(variants, split)
        # (with --same-steps the costs are not measured: ms_per_step is a placeholder)
        base = costs[variants[0][0]]
        steps = {name: round(args.base_steps * base / cost) for name, cost in costs.items()}
        results["cost"] = {
            name: {"ms_per_step": round(1000 * c, 1), "ratio": round(c / base, 2), "steps": steps[name]}
            for name, c in costs.items()
        }
        print(json.dumps(results["cost"]), flush=True)
        train(variants, steps, args, split)
    scorer = Scorer(test, args.eval_points)
    results["scores"] = {
        name: score(name, variant_seed(sets, args.seed), args, scorer) for name, sets in variants
    }
    (args.workdir / "ablation.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
