"""Speed of the point-cloud metrics (PointFlow protocol) against naive baselines, same run.

    python benchmarks/metrics_bench.py                      # 100 x 100 shapes, 2048 points
    taskset -c 0,1 python benchmarks/metrics_bench.py --threads 2 \
        --out benchmarks/results/pointcloud-metrics.md

What is timed:

* ``evaluate(..., emd_points=0)``: MMD-CD, COV-CD and 1-NNA-CD of 100 samples against 100
  references, i.e. the sample-ref, sample-sample and ref-ref Chamfer matrices
  (10,000 + 4,950 + 4,950 = 19,900 shape pairs), batched and tiled in torch.
* Baselines over the same pairs (all of them with ``--full-baseline``, else a random
  subset, extrapolated): (a) scipy ``cKDTree`` built for both shapes of each pair and
  queried both ways; (b) an unchunked per-pair torch loop (``cdist`` of the full 2048 x
  2048 matrix). Their values are checked against the fast matrices.
* EMD: exact assignment on ``--emd-points`` points per shape, per pair (extrapolated).
* The tile size of the CPU kernel (``memory_mb``), and the GPU when there is one.

Shapes are procedural (``samples/make_shapes.py``), two independent draws of 2048 points.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))

from make_shapes import make_collection  # noqa: E402

from flowstudio.pointclouds import metrics  # noqa: E402


def shapes(n: int, points: int, seed: int) -> np.ndarray:
    per_class = -(-n // 5)
    return make_collection(per_class=per_class, n_points=points, seed=seed)[0][:n]


def all_pairs(n_s: int, n_r: int) -> list[tuple[str, int, int]]:
    pairs = [("sr", i, j) for i in range(n_s) for j in range(n_r)]
    pairs += [("ss", i, j) for i in range(n_s) for j in range(i + 1, n_s)]
    pairs += [("rr", i, j) for i in range(n_r) for j in range(i + 1, n_r)]
    return pairs


def cd_kdtree(a: np.ndarray, b: np.ndarray) -> float:
    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return float((da**2).mean() + (db**2).mean())


def cd_torch_loop(a: torch.Tensor, b: torch.Tensor) -> float:
    d = torch.cdist(a, b) ** 2
    return float(d.min(1).values.mean() + d.min(0).values.mean())


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=100)
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline-pairs", type=int, default=1000, help="pairs timed per baseline")
    parser.add_argument("--full-baseline", action="store_true", help="time the baselines on every pair")
    parser.add_argument("--emd-points", type=int, default=metrics.DEFAULT_EMD_POINTS)
    parser.add_argument("--emd-pairs", type=int, default=200)
    parser.add_argument("--emd-full", action="store_true", help="also time the whole EMD part of evaluate")
    parser.add_argument("--sweep", action="store_true", help="also time several CPU tile sizes")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    samples = shapes(args.shapes, args.points, seed=1)
    refs = shapes(args.shapes, args.points, seed=2)
    n_s = n_r = args.shapes
    pairs = all_pairs(n_s, n_r)
    sets = {"s": samples, "r": refs}
    lines = [
        "# Point-cloud metrics: speed",
        "",
        f"Produced by `benchmarks/metrics_bench.py` ({' '.join(sys.argv[1:]) or 'defaults'}).",
        "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"torch threads = {torch.get_num_threads()}, affinity = {sorted(os.sched_getaffinity(0))}",
        f"- torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}",
        f"- data: {n_s} samples vs {n_r} references, {args.points} points each (procedural shapes); "
        f"{len(pairs)} shape pairs for CD (sample-ref, sample-sample, ref-ref)",
        "",
    ]

    # The fast path: the whole CD part of evaluate().
    metrics.evaluate(samples[:4], refs[:4], emd_points=0)  # warm-up
    result, t_fast = timed(metrics.evaluate, samples, refs, emd_points=0)
    fast = {
        "sr": metrics.pairwise_cd(samples[:20], refs[:20]),
        "ss": metrics.pairwise_cd(samples[:20]),
        "rr": metrics.pairwise_cd(refs[:20]),
    }
    print(f"evaluate (CD) {t_fast:.1f} s {result}", flush=True)

    rng = np.random.default_rng(0)
    if args.full_baseline:
        subset = pairs
    else:
        subset = [
            pairs[k] for k in rng.choice(len(pairs), size=min(args.baseline_pairs, len(pairs)), replace=False)
        ]
    check = [p for p in pairs if p[1] < 20 and p[2] < 20][:300]

    def shape_pair(kind: str, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        return sets[kind[0]][i], sets[kind[1]][j]

    t0 = time.perf_counter()
    for kind, i, j in subset:
        cd_kdtree(*shape_pair(kind, i, j))
    t_kd = (time.perf_counter() - t0) / len(subset) * len(pairs)
    err_kd = max(abs(cd_kdtree(*shape_pair(k, i, j)) - float(fast[k][i, j])) for k, i, j in check)
    print(f"kdtree baseline {t_kd:.1f} s (extrapolated from {len(subset)} pairs)", flush=True)

    torch_sets = {k: torch.from_numpy(v) for k, v in sets.items()}
    t0 = time.perf_counter()
    for kind, i, j in subset:
        cd_torch_loop(torch_sets[kind[0]][i], torch_sets[kind[1]][j])
    t_loop = (time.perf_counter() - t0) / len(subset) * len(pairs)
    err_loop = max(
        abs(cd_torch_loop(torch_sets[k[0]][i], torch_sets[k[1]][j]) - float(fast[k][i, j]))
        for k, i, j in check
    )
    print(f"torch loop baseline {t_loop:.1f} s", flush=True)

    how = "every pair" if args.full_baseline else f"{len(subset)} random pairs, extrapolated to {len(pairs)}"
    lines += [
        "## Chamfer part of `evaluate` (MMD-CD, COV-CD, 1-NNA-CD)",
        "",
        "| method | seconds for all pairs | speed-up of ours | max abs difference |",
        "| --- | ---: | ---: | ---: |",
        f"| **ours**: `evaluate(emd_points=0)`, batched + tiled torch | **{t_fast:.1f}** | 1.0x | - |",
        f"| baseline: scipy cKDTree per pair ({how}) | {t_kd:.1f} | {t_kd / t_fast:.1f}x | {err_kd:.1e} |",
        f"| baseline: unchunked torch.cdist per pair ({how}) | {t_loop:.1f} | {t_loop / t_fast:.1f}x | "
        f"{err_loop:.1e} |",
        "",
        f"Requirement: under 120 s on 2 cores -> **{'met' if t_fast < 120 else 'NOT met'}** "
        f"({t_fast:.1f} s with {torch.get_num_threads()} threads).",
        "",
        "Scores of that run: " + ", ".join(f"{k} = {v:.4g}" for k, v in result.items() if v is not None),
        "",
    ]

    if args.sweep:
        lines += ["## CPU tile size (`memory_mb` of `pairwise_cd`), sample-ref matrix of 30 x 30 shapes", "",
                  "| memory_mb | ms per pair |", "| ---: | ---: |"]  # fmt: skip
        for mb in (0.5, 1, 2, 4, 8, 32, 128):
            _, t = timed(metrics.pairwise_cd, samples[:30], refs[:30], memory_mb=mb)
            lines.append(f"| {mb} | {t / 900 * 1e3:.2f} |")
            print(f"memory_mb {mb}: {t / 900 * 1e3:.2f} ms/pair", flush=True)
        lines.append("")

    if args.emd_points:
        emd_pairs = subset[: args.emd_pairs]
        m = args.emd_points
        t0 = time.perf_counter()
        for kind, i, j in emd_pairs:
            a, b = shape_pair(kind, i, j)
            metrics.emd_exact(a[:m], b[:m])
        t_emd = (time.perf_counter() - t0) / len(emd_pairs) * len(pairs)
        lines += [
            "## EMD (exact assignment, scipy linear_sum_assignment)",
            "",
            f"{t_emd / len(pairs) * 1e3:.2f} ms per pair at emd_points = {m}, so about {t_emd:.0f} s for the "
            f"{len(pairs)} pairs of a {n_s} x {n_r} evaluation (extrapolated from {len(emd_pairs)} pairs).",
            "",
        ]
        print(f"EMD {t_emd:.1f} s extrapolated", flush=True)
        if args.emd_full:
            t0 = time.perf_counter()
            e_sr = metrics.pairwise_emd(samples, refs, n_points=m)
            metrics.pairwise_emd(samples, n_points=m)
            metrics.pairwise_emd(refs, n_points=m)
            t_full = time.perf_counter() - t0
            workers = metrics._auto_workers(n_s * n_r, m)
            lines += [
                f"The whole EMD part of `evaluate` (all {len(pairs)} pairs, {workers} worker processes "
                f"chosen automatically on the cores above): **{t_full:.1f} s** measured, "
                f"{t_emd / t_full:.1f}x the one-process estimate. "
                f"MMD-EMD = {float(e_sr.amin(0).mean()):.4g}.",
                "",
            ]
            print(f"EMD full {t_full:.1f} s", flush=True)

    if torch.cuda.is_available():
        metrics.evaluate(samples[:4], refs[:4], emd_points=0, device="cuda")
        torch.cuda.synchronize()
        gpu, t_gpu = timed(metrics.evaluate, samples, refs, emd_points=0, device="cuda")
        diff = max(abs(gpu[k] - result[k]) for k in ("MMD-CD", "COV-CD", "1-NNA-CD"))
        lines += [
            "## GPU",
            "",
            f"`evaluate(emd_points=0, device='cuda')` on {torch.cuda.get_device_name()}: {t_gpu:.2f} s "
            f"({t_fast / t_gpu:.0f}x the CPU run above); largest score difference vs CPU {diff:.1e}.",
            "",
        ]
        print(f"GPU {t_gpu:.2f} s", flush=True)

    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
