"""RNODE regularization and the trace estimator for a CNF on one 3-D point set.

Trains the same CNF (same seed, same initial weights, same batches, same budget) under four
settings, {no regularization, RNODE} x {exact trace, Hutchinson}, where RNODE adds
``0.01 ∫||f||^2 dt + 0.01 ∫||∂f/∂z||_F^2 dt`` to the loss (Finlay et al. 2020, "How to train
your neural ODE"). The four runs are interleaved step by step, so that load on a shared
machine falls on all of them alike. It then prints, side by side:

* the NLL per point of held-out points, every model scored the same way: dopri5 at the
  training tolerances with the exact trace (a Hutchinson score would only add noise);
* the function evaluations (NFE) per training step, forward and backward (the adjoint
  solve, or the evaluations backpropagated through without the adjoint), averaged over the
  last quarter of the steps, when the learned dynamics have settled;
* the NFE of scoring the held-out points, and seconds per training step;
* ratios against the unregularized Hutchinson run (PointFlow's and FFJORD's setting).

    python benchmarks/cnf_rnode.py                         # points on a torus, made here
    python benchmarks/cnf_rnode.py --data ../shared/data/modelnet_chair_train_2048.npz --shape 0

An ``.npz`` holds ``points`` (S, P, 3); ``--shape`` picks one shape. The points are centred
and scaled to unit variance; a quarter of them is held out.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from flowstudio.flows.cnf import CNF, make_cnf_flow
from flowstudio.flows.cnf_control import count_nfe, regularization_terms, reset_nfe
from flowstudio.flows.flow import Flow

SETTINGS = {  # name: (trace, RNODE on)
    "exact": ("exact", False),
    "exact+RNODE": ("exact", True),
    "hutchinson": ("hutchinson", False),
    "hutchinson+RNODE": ("hutchinson", True),
}
BASELINE = "hutchinson"


def torus(n: int, generator: np.random.Generator, major: float = 1.0, minor: float = 0.35) -> np.ndarray:
    """Points uniformly distributed on a torus surface (rejection sampling on the angle)."""
    out = []
    while sum(len(o) for o in out) < n:
        u, v = generator.uniform(0, 2 * math.pi, (2, n))
        # the area element grows with the distance from the axis, R + r cos v
        keep = generator.uniform(0, 1, n) < (major + minor * np.cos(v)) / (major + minor)
        r = major + minor * np.cos(v[keep])
        out.append(np.stack([r * np.cos(u[keep]), r * np.sin(u[keep]), minor * np.sin(v[keep])], -1))
    return np.concatenate(out)[:n]


def load_points(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    if args.data is None:
        return torus(2048, np.random.default_rng(args.seed)), "2048 points on a torus (R=1, r=0.35)"
    with np.load(args.data) as data:
        points = data["points"]
    points = points[args.shape] if points.ndim == 3 else points
    return points, f"{args.data} shape {args.shape} ({len(points)} points)"


@dataclass
class Run:
    name: str
    flow: Flow
    optimizer: torch.optim.Optimizer
    nfe_forward: list[int] = field(default_factory=list)
    nfe_backward: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    nll: float = math.nan
    eval_nfe: int = 0


def cnfs(flow: Flow) -> list[CNF]:
    return [m for m in flow.modules() if isinstance(m, CNF)]


def train_step(run: Run, batch: torch.Tensor, sync) -> None:
    reset_nfe(run.flow)
    start = time.perf_counter()
    loss = -run.flow.log_prob(batch).mean()
    loss = loss + sum(regularization_terms(run.flow).values())
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    sync()
    run.seconds.append(time.perf_counter() - start)
    forward, backward = count_nfe(run.flow)
    run.nfe_forward.append(forward)
    run.nfe_backward.append(backward)


@torch.no_grad()
def score(run: Run, held_out: torch.Tensor) -> None:
    run.flow.eval()
    for cnf in cnfs(run.flow):
        cnf.trace = "exact"
    reset_nfe(run.flow)
    run.nll = -float(run.flow.log_prob(held_out).mean())
    run.eval_nfe = count_nfe(run.flow)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="an .npz with points (S, P, 3); default: a torus")
    parser.add_argument("--shape", type=int, default=0, help="which shape of --data")
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512, help="points per training step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64, 64])
    parser.add_argument("--tol", type=float, default=1e-5, help="dopri5 atol = rtol")
    parser.add_argument("--weight", type=float, default=0.01, help="RNODE kinetic and Jacobian weights")
    parser.add_argument("--no-adjoint", action="store_true", help="backpropagate through the solver")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    points, description = load_points(args)
    points = (points - points.mean(0)) / points.std()
    order = np.random.default_rng(args.seed).permutation(len(points))
    n_test = len(points) // 4
    held_out = torch.as_tensor(points[order[:n_test]], dtype=torch.float32, device=device)
    train = torch.as_tensor(points[order[n_test:]], dtype=torch.float32, device=device)

    runs = []
    for name, (trace, rnode) in SETTINGS.items():
        torch.manual_seed(args.seed)  # identical initial weights in every run
        weight = args.weight if rnode else 0.0
        flow = make_cnf_flow(
            3, hidden=tuple(args.hidden), activation="tanh", solver="dopri5", atol=args.tol, rtol=args.tol,
            adjoint=not args.no_adjoint, trace=trace, kinetic_weight=weight, jacobian_weight=weight,
        ).to(device)
        runs.append(Run(name, flow, torch.optim.Adam(flow.parameters(), lr=args.lr)))

    batches = torch.Generator().manual_seed(args.seed)
    started = time.time()
    load_before = os.getloadavg()
    for step in range(args.iters):
        batch = train[torch.randint(0, len(train), (args.batch,), generator=batches).to(device)]
        for run in runs:
            train_step(run, batch, sync)
        if (step + 1) % max(1, args.iters // 10) == 0:
            nfe = ", ".join(f"{r.name} {r.nfe_forward[-1]}/{r.nfe_backward[-1]}" for r in runs)
            elapsed = time.time() - started
            print(f"step {step + 1}/{args.iters} ({elapsed:.0f} s) NFE fwd/bwd: {nfe}", flush=True)
    for run in runs:
        score(run, held_out)
    load_after = os.getloadavg()

    tail = slice(-max(1, args.iters // 4), None)
    base = next(r for r in runs if r.name == BASELINE)

    def mean(values: list[float]) -> float:
        return statistics.fmean(values[tail])

    print()
    print(f"data: {description}; train {len(train)} / held-out {len(held_out)} points, batch {args.batch}")
    print(
        f"CNF: 1 block, ODENet {tuple(args.hidden)} tanh, dopri5 atol=rtol={args.tol:g}, "
        f"adjoint={not args.no_adjoint}, Adam lr={args.lr:g}, {args.iters} steps, seed {args.seed}, "
        f"RNODE weights {args.weight:g}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, "
        f"threads {args.threads}, device {device}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; wall {time.time() - started:.0f} s"
    )
    print("NFE per step: mean over the last quarter of the steps; NLL, eval NFE: held-out points, exact")
    print()
    header = ("setting", "NLL/point", "NFE fwd", "NFE bwd", "s/step", "eval NFE",
              "NFE fwd ratio", "NFE bwd ratio", "time ratio")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
    for run in runs:
        row = (
            run.name, f"{run.nll:.3f}", f"{mean(run.nfe_forward):.1f}", f"{mean(run.nfe_backward):.1f}",
            f"{statistics.fmean(run.seconds):.3f}", f"{run.eval_nfe}",
            f"{mean(run.nfe_forward) / mean(base.nfe_forward):.2f}",
            f"{mean(run.nfe_backward) / mean(base.nfe_backward):.2f}",
            f"{statistics.fmean(run.seconds) / statistics.fmean(base.seconds):.2f}",
        )
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
