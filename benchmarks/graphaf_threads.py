"""GraphAF quick-preset training speed on the CPU: 1 intra-op thread against 2 (issue 13).

On the shared 2-core machine a quick run on 2 threads made 148 steps in 8 minutes where
one pinned thread made 620 in 6 (``benchmarks/results/graphaf.md``, section 6). This
measures the steps/s of the real CLI (``flowstudio mols train``, quick preset, the first
5,000 molecules, no validation, samples or calibration) with ``OMP_NUM_THREADS=1`` and
``=2``, alternating, in fresh processes, and the 1-minute load average before each run
(other jobs on the cores decide the answer). Uses ``ddp_throughput.measure`` (one copy).

    flock /tmp/flowstudio-bench.lock python benchmarks/graphaf_threads.py \
        --mols samples/molecules/moses_20k.smi --rounds 3 --iters 120
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ddp_throughput import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mols", required=True, help="SMILES data (.smi, .csv, .csv.gz)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=120)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], 2: []}
    print("| round | threads | load (1 min) before | steps/s | wall s |")
    print("|---|---|---|---|---|")
    for r in range(args.rounds):
        for threads in (1, 2) if r % 2 == 0 else (2, 1):
            load = os.getloadavg()[0]
            m = measure("mols", args.mols, args.iters, 1, threads)
            rates[threads].append(m["steps_per_s"])
            print(
                f"| {r + 1} | {threads} | {load:.1f} | {m['steps_per_s']:.2f} | {m['wall_s']:.0f} |",
                flush=True,
            )
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"\nmedian steps/s: 1 thread {one:.2f}, 2 threads {two:.2f}, ratio 2/1 = {two / one:.2f}")


if __name__ == "__main__":
    main()
