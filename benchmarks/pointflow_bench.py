"""PointFlow and the single-shape CNF on ModelNet chairs, beside PointFlow's own settings.

Each model is trained twice through the real engine, with the same network sizes, data and
budget (wall-clock minutes or iterations):

* ``flowstudio``: the preset as shipped (quick: fixed-step RK4 over a fixed T, RNODE
  kinetic + Jacobian regularization, for PointFlow Hutchinson's trace and 32 shapes x 128
  points per step; full: the paper's sizes with RNODE);
* ``baseline``: PointFlow's settings (Yang et al. 2019): dopri5 at atol = rtol = 1e-5,
  Hutchinson's trace estimator, a learned T, no regularization, no final prior refinement;
  everything else (sizes, batch, learning rate) as in the preset.

With ``--minutes``, the preset's final stage (PointFlow's ``prior_refine_s``) is part of the
budget: FlowStudio trains that much shorter, so both variants take the same wall-clock time.

Both are then scored the same way: 1-NNA-CD against the held-out part of samples drawn
with the model's own solver (what a user gets), the function evaluations a sampling solve
costs with that solver and with one common accurate solver (dopri5, atol = rtol = 1e-5,
exact trace; RNODE's straighter flows should need fewer), and the NLL per point on
held-out data with that common solver (PointFlow: -ELBO / N of held-out shapes; single
shape: -log p of held-out points).

    python benchmarks/pointflow_bench.py --preset quick --device cpu --minutes 10
    python benchmarks/pointflow_bench.py --preset full --device cuda --minutes 20

The data is read from ../shared/data (ModelNet, research use only) and never copied.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowstudio.flows.cnf_control import ACCURATE, count_nfe, reset_nfe, solver_override
from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.io import read_collection
from flowstudio.pointclouds.metrics import evaluate
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.pointclouds.task import PointCloudTask
from flowstudio.training import Finished, Progress, TrainOptions, train

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "modelnet_chair_train_2048.npz"
BASELINE = {"solver": "dopri5", "atol": 1e-5, "rtol": 1e-5, "trace": "hutchinson", "train_end_time": True,
            "kinetic_weight": 0.0, "jacobian_weight": 0.0, "prior_refine_s": 0.0}


def accurate_solver(model: torch.nn.Module) -> contextlib.AbstractContextManager[None]:
    """One common, accurate solver for scoring every variant (in eval mode the trace is
    exact: the CNFs switch to it by themselves)."""
    return solver_override(model, step_size=None, steps=None, **ACCURATE)


def save_samples(args: argparse.Namespace, model: str, samples: np.ndarray) -> None:
    if args.save_samples:
        args.save_samples.mkdir(parents=True, exist_ok=True)
        np.save(args.save_samples / f"{model}-{args.current_variant}.npy", samples)


def train_variant(task: PointCloudTask, run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    # A final stage (PointFlow's prior refinement) comes out of the same wall-clock budget.
    minutes = args.minutes - float(task.values.get("prior_refine_s", 0.0)) / 60
    options = TrainOptions(
        iters=args.iters, minutes=None if args.iters else minutes, lr=task.values["lr"],
        seed=args.seed, device=args.device, checkpoint_every_s=1e9, samples_n=0,
        validate_every=10**9, log_every=1 if args.device == "cpu" else 10,
    )
    progress: list[Progress] = []
    finished: Finished | None = None
    started = time.perf_counter()
    for event in train(task, run_dir, options):
        if isinstance(event, Progress):
            progress.append(event)
        elif isinstance(event, Finished):
            finished = event
    wall = time.perf_counter() - started
    if finished is None or finished.reason == "error":
        raise RuntimeError(f"training failed: {finished.error if finished else 'no Finished event'}")
    nfe_f = [p.nfe_forward for p in progress if p.nfe_forward is not None]
    nfe_b = [p.nfe_backward for p in progress if p.nfe_backward is not None]
    return {
        "steps": finished.step,
        "train_s": progress[-1].elapsed_s if progress else wall,
        "it_per_s": finished.step / progress[-1].elapsed_s if progress else float("nan"),
        "nfe_train_forward": float(np.mean(nfe_f)) if nfe_f else None,
        "nfe_train_backward": float(np.mean(nfe_b)) if nfe_b else None,
        "final_losses": progress[-1].losses if progress else {},
    }


def score_samples(
    task: PointCloudTask, refs: np.ndarray, args: argparse.Namespace, name: str
) -> dict[str, Any]:
    """1-NNA-CD of samples drawn with the model's own solver (what a user gets), and the NFE
    one sampling solve costs with that solver and with the common accurate one."""
    cnfs = task.model.decoder if isinstance(task.model, PointFlow) else task.model
    k, p = refs.shape[:2]
    reset_nfe(cnfs)
    samples = analyses.sample(task, k, p, seed=args.seed)
    nfe_own = count_nfe(cnfs)[0]
    metrics = evaluate(samples, refs, emd_points=0, device=args.device)
    save_samples(args, name, samples)
    reset_nfe(cnfs)
    with accurate_solver(task.model):
        analyses.sample(task, k, p, seed=args.seed)
    return {"1-NNA-CD": metrics["1-NNA-CD"], "MMD-CD": metrics["MMD-CD"], "COV-CD": metrics["COV-CD"],
            "nfe_sample_own": nfe_own, "nfe_sample": count_nfe(cnfs)[0]}


@torch.no_grad()
def score_pointflow(task: PointCloudTask, args: argparse.Namespace) -> dict[str, Any]:
    model = task.model
    assert isinstance(model, PointFlow)
    model.eval()
    held_out = task.held_out()[: args.eval_shapes]
    row = score_samples(task, task.to_data_frame(held_out.cpu().numpy()), args, "pointflow")
    torch.manual_seed(args.seed)
    with accurate_solver(model):
        nll = torch.cat([model.negative_elbo(chunk) / chunk.shape[1] for chunk in held_out.split(8)])
    return {"nll_per_point": float(nll.mean()), **row, "eval_shapes": len(held_out)}


@torch.no_grad()
def score_single_shape(task: PointCloudTask, args: argparse.Namespace) -> dict[str, Any]:
    model = task.model
    model.eval()
    held_out = task.held_out()  # (P_test, 3) in the model frame
    clouds = args.cnf_clouds
    per_cloud = len(held_out) // clouds
    refs = task.to_data_frame(held_out[: clouds * per_cloud].reshape(clouds, per_cloud, 3).cpu().numpy())
    row = score_samples(task, refs, args, "cnf")
    torch.manual_seed(args.seed)
    with accurate_solver(model):
        nll = float(-model.point_log_prob(held_out[None]).mean())
    return {"nll_per_point": nll, **row, "eval_clouds": f"{clouds}x{per_cloud}"}


def run_model(model_name: str, shapes: Any, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results = {}
    for variant in args.variants.split(","):
        overrides = {"flowstudio": {}, "baseline": BASELINE}[variant.strip()]
        args.current_variant = variant
        values = {"seed": args.seed, "test_fraction": args.test_fraction, **overrides}
        if model_name == "cnf":
            values["test_fraction"] = 0.5  # half of the shape's points are held out
        task = PointCloudTask(shapes, model_name, args.preset, values)
        print(f"[{model_name}/{variant}] training ({task.values['solver']}, trace {task.values['trace']}, "
              f"kinetic {task.values['kinetic_weight']}, jacobian {task.values['jacobian_weight']})",
              flush=True)
        row = train_variant(task, workdir / f"{model_name}-{variant}", args)
        print(f"[{model_name}/{variant}] {row['steps']} steps, {row['it_per_s']:.3g} it/s; scoring",
              flush=True)
        started = time.perf_counter()
        score = score_pointflow if model_name == "pointflow" else score_single_shape
        row.update(score(task, args))
        row["score_s"] = time.perf_counter() - started
        results[variant] = row
        print(f"[{model_name}/{variant}] {json.dumps(row)}", flush=True)
    return results


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table(all_results: dict[str, dict[str, dict[str, Any]]]) -> str:
    head = ("| model | variant | steps | it/s | train NFE fwd/bwd | sample NFE own / dopri5 1e-5 | "
            "NLL/point | 1-NNA-CD | MMD-CD | COV-CD |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for model, variants in all_results.items():
        for variant, r in variants.items():
            nfe = "/".join("-" if v is None else f"{v:.0f}" for v in (r["nfe_train_forward"],
                                                                         r["nfe_train_backward"]))
            lines.append(
                f"| {model} | {variant} | {r['steps']} | {r['it_per_s']:.3g} | {nfe} | "
                f"{r.get('nfe_sample_own', '-')} / {r['nfe_sample']} | "
                f"{r['nll_per_point']:.4f} | {r['1-NNA-CD']:.3f} | {r['MMD-CD']:.4g} | {r['COV-CD']:.3f} |"
            )
        if "flowstudio" not in variants or "baseline" not in variants:
            continue
        f, b = variants["flowstudio"], variants["baseline"]
        lines.append(
            f"| {model} | **ratio** | | {ratio(f['it_per_s'], b['it_per_s'])} | "
            f"{ratio(f['nfe_train_forward'], b['nfe_train_forward'])} | "
            f"{ratio(f['nfe_sample'], b['nfe_sample'])} | "
            f"{f['nll_per_point'] - b['nll_per_point']:+.4f} nats | "
            f"{ratio(f['1-NNA-CD'], b['1-NNA-CD'])} | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--preset", choices=("quick", "full"), default="quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget of each variant")
    parser.add_argument("--iters", type=int, default=None, help="an iteration budget instead of minutes")
    parser.add_argument("--models", default="pointflow,cnf")
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--eval-shapes", type=int, default=64, help="held-out shapes scored (PointFlow)")
    parser.add_argument("--cnf-clouds", type=int, default=8, help="clouds compared for the single shape")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: as set)")
    parser.add_argument("--variants", default="flowstudio,baseline")
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    parser.add_argument("--save-samples", type=Path, default=None, help="a folder for the samples (.npy)")
    parser.add_argument("--merge", type=Path, nargs="+", help="print one table from earlier --json files")
    args = parser.parse_args()
    if args.merge:
        merged: dict[str, dict[str, Any]] = {}
        for path in args.merge:
            for model, variants in json.loads(path.read_text())["results"].items():
                merged.setdefault(model, {}).update(variants)
        print(table(merged))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = read_collection(args.data, n_points=None)
    print(f"data: {len(shapes)} shapes of {shapes.points.shape[1]} points; preset {args.preset}; device "
          f"{args.device}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cpus, {platform.processor() or platform.machine()}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            results[model] = run_model(model.strip(), shapes, args, Path(tmp))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()
