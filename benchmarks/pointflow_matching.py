"""PointFlow by flow matching beside PointFlow by likelihood, on shapes the model never saw.

Each variant trains through the CLI, as a user runs it (``flowstudio points train``), for
the same wall-clock budget, on ModelNet chairs with ``--test-shapes`` of them held out
(a fixed permutation, seed 0). With ``--side-by-side`` two variants train at once, each
pinned to its own core with one thread, so that both see the same machine (the CPUs of
this workplace are shared, and a variant trained alone at another time is not
comparable); otherwise they train one after the other with every core.

Each run is then scored the same way, with every core, by PointFlow's protocol (Yang et
al. 2019): ``--eval-samples`` shapes of 2,048 points drawn with the run's own sampling
solver against the held-out shapes (1-NNA-CD, COV-CD, MMD-CD); the time that draw takes;
the exact held-out negative ELBO per point (dopri5 at 1e-5, exact divergence, 512 points
of each held-out shape: comparable between the objectives, since both give the same kind
of model); and a memorization check: the median Chamfer distance (256 points) of a sample
to its nearest training shape, beside the same distance for the held-out shapes.
``--eval-points`` compares fewer than 2,048 points a cloud to screen variants quickly.

    python benchmarks/pointflow_matching.py --minutes 8 --side-by-side \\
        --variant likelihood:objective=likelihood --variant matching:objective=flow_matching

The data is read from ../shared/data (ModelNet, research use only) and never copied: the
split file is written to the work folder (a temporary folder unless ``--workdir``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowstudio.flows.cnf_control import ACCURATE, count_nfe, reset_nfe, solver_override
from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.analyses import point_solver
from flowstudio.pointclouds.metrics import mmd_cov, one_nn_accuracy, pairwise_cd
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.pointclouds.settings import preset_values
from flowstudio.training import Run, restore_task

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "modelnet_chair_train_2048.npz"
NLL_POINTS = 512
MEMO_POINTS = 256
CD_TILE_MB = 64
"""Larger tiles than the library's default: several times faster here (fewer, larger products)."""
CACHED = ("d_rr", "test_to_train")
REFINE_S = preset_values("pointflow", "quick")["prior_refine_s"]


def write_split(data: Path, test_shapes: int, out: Path) -> tuple[np.ndarray, np.ndarray]:
    """A fixed train/test split of the collection, as an .npz with ``points`` and ``split``."""
    points = np.load(data)["points"].astype(np.float32)
    order = np.random.default_rng(0).permutation(len(points))
    split = np.array(["train"] * len(points), dtype="<U5")
    split[order[:test_shapes]] = "test"
    np.savez(out, points=points, split=split)
    return points[split == "train"], points[split == "test"]


def train_variants(variants: list[tuple[str, list[str]]], args: argparse.Namespace, split: Path) -> None:
    """Train every variant through the CLI; two at a time, one core each, with --side-by-side."""
    pending = list(variants)
    cores = [0, 1] if args.side_by_side else [None]
    while pending:
        batch, pending = pending[: len(cores)], pending[len(cores):]
        procs = []
        for (name, sets), core in zip(batch, cores, strict=False):
            # The final prior refinement comes out of the same wall-clock budget.
            refine = next((float(s.split("=")[1]) for s in sets if s.startswith("prior_refine_s=")), REFINE_S)
            minutes = args.minutes - refine / 60
            cmd = [sys.executable, "-m", "flowstudio", "points", "train", "--data", str(split),
                   "--out", str(args.workdir / name), "--minutes", f"{minutes:g}", "--seed", str(args.seed)]
            for item in sets:
                cmd += ["--set", item]
            env = dict(os.environ)
            if core is not None:
                cmd = ["taskset", "-c", str(core), *cmd]
                env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            log = open(args.workdir / f"{name}.log", "w")  # noqa: SIM115 - closed after the wait
            print(f"[{name}] {' '.join(cmd)}", flush=True)
            procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        for name, proc, log in procs:
            proc.wait()
            log.close()
            print(f"[{name}] exit {proc.returncode}", flush=True)


@torch.no_grad()
def score(run_dir: Path, test: np.ndarray, train: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    restored = restore_task(Run(run_dir).checkpoint("best"), kind="points", device="cpu")
    task = restored.task
    model = task.model
    assert isinstance(model, PointFlow)
    model.eval()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = max((m.get("step", 0) for m in metrics), default=0)
    # the point CNF's own steps (PointFlow's point_steps, else steps), as analyses.sample solves it
    own_steps = task.values.get("point_steps") or task.values["steps"]
    sampler = f"{args.solver or task.values['solver']}/{args.steps or own_steps}"
    row: dict[str, Any] = {"steps": steps, "objective": task.values["objective"], "sampler": sampler}
    started = time.perf_counter()
    samples = analyses.sample(
        task, args.eval_samples, 2048, seed=args.seed, solver=args.solver, steps=args.steps
    )
    row["sample_s"] = time.perf_counter() - started
    np.save(run_dir / "eval_samples.npy", samples)
    keep = np.random.default_rng(1).choice(2048, args.eval_points, replace=False)
    d_sr = pairwise_cd(samples[:, keep], test[:, keep], memory_mb=CD_TILE_MB)
    d_ss = pairwise_cd(samples[:, keep], memory_mb=CD_TILE_MB)
    if args.d_rr is None:  # the held-out shapes against themselves: the same for every run
        args.d_rr = pairwise_cd(test[:, keep], memory_mb=CD_TILE_MB)
    row["MMD-CD"], row["COV-CD"] = mmd_cov(d_sr)
    row["1-NNA-CD"] = one_nn_accuracy(args.d_rr, d_sr.T, d_ss)
    if args.quality_only:
        return row
    row.update(dopri5_sampling(model, args.seed))
    torch.manual_seed(args.seed)
    held_out = torch.as_tensor(task.to_model_frame(test[:, :NLL_POINTS]))
    with solver_override(model, step_size=None, steps=None, **ACCURATE):
        nll = torch.cat([model.negative_elbo(chunk) / chunk.shape[1] for chunk in held_out.split(10)])
    row["nll_per_point"] = float(nll.mean())
    pick = np.random.default_rng(0).choice(2048, MEMO_POINTS, replace=False)
    to_train = pairwise_cd(samples[:, pick], train[:, pick], memory_mb=CD_TILE_MB)
    if args.test_to_train is None:
        args.test_to_train = pairwise_cd(test[:, pick], train[:, pick], memory_mb=CD_TILE_MB)
    row["nn_cd_samples_to_train"] = float(to_train.min(dim=1).values.median())
    row["nn_cd_test_to_train"] = float(args.test_to_train.min(dim=1).values.median())
    return row


def dopri5_sampling(model: PointFlow, seed: int) -> dict[str, float]:
    """16 shapes x 2,048 points solved accurately (dopri5 at 1e-5): the time and NFE of the
    state alone (how FlowStudio samples now) and of the state with its divergence (how it
    sampled before flow matching came), from the same latents and noise."""
    torch.manual_seed(seed)
    latent = model.sample_latent(16)
    noise = torch.randn(16, 2048, 3)
    out = {}
    with point_solver(model, "dopri5"):
        for name, solve in (("state", model.decoder.transform.inverse_value),
                            ("with_divergence", model.decoder.transform.inverse)):
            reset_nfe(model.decoder)
            started = time.perf_counter()
            solve(noise, context=latent)
            out[f"dopri5_{name}_s"] = time.perf_counter() - started
            out[f"dopri5_{name}_nfe"] = count_nfe(model.decoder)[0]
    return out


def table(rows: dict[str, dict[str, Any]]) -> str:
    head = ("| variant | objective | steps | sampler | sample 100x2048 (s) | 1-NNA-CD | COV-CD | MMD-CD | "
            "held-out -ELBO/point | NN-CD samples→train / test→train | dopri5 16x2048: s (NFE), "
            "before: with divergence |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in rows.items():
        if "nll_per_point" not in r:
            lines.append(
                f"| {name} | {r['objective']} | {r['steps']} | {r['sampler']} | {r['sample_s']:.1f} | "
                f"{r['1-NNA-CD']:.3f} | {r['COV-CD']:.3f} | {r['MMD-CD']:.4g} | | | |"
            )
            continue
        lines.append(
            f"| {name} | {r['objective']} | {r['steps']} | {r['sampler']} | {r['sample_s']:.1f} | "
            f"{r['1-NNA-CD']:.3f} | {r['COV-CD']:.3f} | {r['MMD-CD']:.4g} | {r['nll_per_point']:.3f} | "
            f"{r['nn_cd_samples_to_train']:.4g} / {r['nn_cd_test_to_train']:.4g} | "
            f"{r['dopri5_state_s']:.1f} ({r['dopri5_state_nfe']}), {r['dopri5_with_divergence_s']:.1f} "
            f"({r['dopri5_with_divergence_nfe']}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--test-shapes", type=int, default=100)
    parser.add_argument("--eval-samples", type=int, default=100)
    parser.add_argument("--eval-points", type=int, default=2048,
                        help="points of each cloud compared (PointFlow: 2048; fewer to screen variants)")
    parser.add_argument("--solver", default=None, help="sample with this solver instead of the run's own")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps of that solver")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME:key=value,key=value (hyperparameters over the quick preset)")
    parser.add_argument("--side-by-side", action="store_true", help="two variants at once, one core each")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the runs here")
    parser.add_argument("--score-only", action="store_true", help="score runs already in --workdir")
    parser.add_argument("--quality-only", action="store_true",
                        help="only the samples' time and quality (to compare samplers on one run)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.d_rr = args.test_to_train = None  # computed once, shared by every run
    variants = [(v.split(":", 1)[0], [s for s in v.split(":", 1)[1].split(",") if s]) for v in args.variant]
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = args.workdir or Path(tmp)
        args.workdir.mkdir(parents=True, exist_ok=True)
        split = args.workdir / "chairs_split.npz"
        train, test = write_split(args.data, args.test_shapes, split)
        print(f"data: {len(train)} training and {len(test)} held-out chairs; {args.minutes} min a variant; "
              f"torch {torch.__version__}, {os.cpu_count()} cpus", flush=True)
        if not args.score_only:
            train_variants(variants, args, split)
        rows = {}
        for name, _ in variants:
            rows[name] = score(args.workdir / name, test, train, args)
            print(f"[{name}] {json.dumps(rows[name])}", flush=True)
        print(table(rows))
        if args.json:
            settings = {k: str(v) for k, v in vars(args).items() if k not in CACHED}
            args.json.write_text(json.dumps({"args": settings, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
