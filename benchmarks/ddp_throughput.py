"""Training throughput (samples/s) of 1 process and of 2 data-parallel CPU processes.

For each engine (PointFlow points, GraphAF molecules) the same ``flowstudio KIND train``
command runs three ways on the CPU, one after another:

* ``1 proc x 1 thread``: the baseline that data parallelism divides;
* ``2 procs x 1 thread``: ``torchrun --standalone --nproc_per_node=2`` (gloo, DDP);
* with ``--two-threads``, ``1 proc x 2 threads``: what one process makes of both cores.

Samples/s = steps/s x global batch (per-rank batch x processes), from the run's own
``metrics.jsonl`` (``steps_per_s`` of each log window, the first window dropped as warm-up,
median of the rest). Writes a Markdown table to stdout.

    flock /tmp/flowstudio-bench.lock python benchmarks/ddp_throughput.py \
        --points ../shared/data/modelnet_chair_train_2048.npz --mols ../shared/data/moses_train.csv.gz
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--device", "cpu", "--set", "log_every=5", "--set", "validate_every=100000",
          "--set", "checkpoint_every=100000", "--set", "samples_n=0"]
ENGINES = {
    "points": ["--model", "pointflow", "--preset", "quick", "--set", "prior_refine_s=0"],
    "mols": ["--preset", "quick", "--set", "max_molecules=5000", "--set", "size_calibration=0"],
}


SETTINGS = ((1, 1), (2, 1), (1, 2))
"""(processes, threads each): the baseline, data parallelism, and (--two-threads) intra-op threads."""


def measure(kind: str, data: str, iters: int, procs: int, threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        args = ["-m", "flowstudio", kind, "train", "--data", data, "--out", str(run), "--iters", str(iters),
                *COMMON, *ENGINES[kind]]
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
        launcher = launcher if procs > 1 else []
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
        started = time.monotonic()
        out = subprocess.run([sys.executable, *launcher, *args], capture_output=True, text=True, env=env)
        wall = time.monotonic() - started
        if out.returncode != 0:
            raise SystemExit(f"{kind} x{procs} failed:\n{out.stderr[-3000:]}")
        config = json.loads((run / "config.json").read_text())
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["steps_per_s"] for r in records if "steps_per_s" in r][1:]
    steps_per_s = statistics.median(rates)
    global_batch = config["distributed"]["global_batch"]
    return {"steps_per_s": steps_per_s, "global_batch": global_batch,
            "samples_per_s": steps_per_s * global_batch, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", required=True, help="point-cloud data (.npz)")
    parser.add_argument("--mols", required=True, help="SMILES data (.smi, .csv, .csv.gz)")
    parser.add_argument("--points-iters", type=int, default=40)
    parser.add_argument("--mols-iters", type=int, default=80)
    parser.add_argument("--two-threads", action="store_true",
                        help="also 1 process x 2 threads (slow and erratic when other jobs use the cores)")
    args = parser.parse_args()
    print("| engine | setting | global batch | steps/s | samples/s | vs 1x1 | wall s |")
    print("|---|---|---|---|---|---|---|")
    engines = (("points", args.points, args.points_iters), ("mols", args.mols, args.mols_iters))
    for kind, data, iters in engines:
        base = None
        for procs, threads in SETTINGS[: 3 if args.two_threads else 2]:
            m = measure(kind, data, iters, procs, threads)
            base = base or m["samples_per_s"]
            print(f"| {kind} | {procs} proc x {threads} thread | {m['global_batch']} "
                  f"| {m['steps_per_s']:.3f} | {m['samples_per_s']:.1f} | {m['samples_per_s'] / base:.2f}x "
                  f"| {m['wall_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
