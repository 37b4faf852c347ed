"""How long a GraphAF training task takes to start on a big data file, and where the time goes.

Before its first step a molecule task reads the file (parse, sanitize, canonicalize: the
reader, :mod:`flowstudio.molecules.parsing`), reads each molecule's graph and ring sizes
(:func:`flowstudio.molecules.parsing.read_graphs`), derives the atom vocabulary (one random
BFS ordering per molecule) and maps the graphs onto it. The first two run in worker
processes for big files; the rest run in the task's process. On the 1.6 M molecules of the
MOSES training set, one process takes tens of minutes, which is why the ``full`` preset
could not start inside a GPU machine's 10-minute call.

Each measurement is a fresh process building ``MoleculeTask(DATA, "quick",
{"max_molecules": N})`` with ``J`` worker processes (``parsing.worker_count`` fixed to J),
timing the phases by wrapping the functions the task calls. Rounds alternate between the
worker counts, so that a shared machine's load hits both alike.

    python benchmarks/graphaf_startup.py --data ../shared/data/moses_train.csv.gz \\
        --molecules 200000 --jobs 1 2 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(data: str, molecules: int, jobs: int) -> dict[str, float]:
    """Build the task with ``jobs`` worker processes; seconds of each phase."""
    sys.path.insert(0, str(ROOT))
    from flowstudio.molecules import parsing, task

    parsing.worker_count = lambda n_jobs: jobs if n_jobs is None else max(1, n_jobs)  # the policy, fixed
    seconds: dict[str, float] = {}

    def timed(module, name: str, label: str) -> None:
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            result = original(*args, **kwargs)
            if hasattr(result, "__next__"):  # a generator: time it as it is drained
                result = list(result)
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - started
            return result

        setattr(module, name, wrapper)

    timed(task, "read_training_smiles", "read file")
    timed(task, "read_graphs", "graphs and rings")
    timed(task, "vocabulary_from_raw", "vocabulary")
    started = time.perf_counter()
    built = task.MoleculeTask(data, "quick", {"max_molecules": molecules})
    seconds["total"] = time.perf_counter() - started
    seconds["rest"] = seconds["total"] - sum(v for k, v in seconds.items() if k != "total")
    seconds["molecules"] = float(len(built.train_graphs) + len(built.valid_graphs))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--molecules", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.data, args.molecules, args.worker)))
        return
    print(f"{args.molecules} molecules of {args.data}; {os.cpu_count()} CPUs")
    print("| round | workers | load before | read file s | graphs and rings s | vocabulary s | rest s | "
          "total s |")
    print("|---|---|---|---|---|---|---|---|")
    totals: dict[int, list[float]] = {j: [] for j in args.jobs}
    for r in range(args.rounds):
        for jobs in args.jobs if r % 2 == 0 else args.jobs[::-1]:
            load = os.getloadavg()[0]
            out = subprocess.run(
                [sys.executable, __file__, "--data", args.data, "--molecules", str(args.molecules),
                 "--worker", str(jobs)], capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            s = json.loads(out)
            totals[jobs].append(s["total"])
            print(f"| {r + 1} | {jobs} | {load:.1f} | {s['read file']:.1f} | {s['graphs and rings']:.1f} | "
                  f"{s['vocabulary']:.1f} | {s['rest']:.1f} | {s['total']:.1f} |", flush=True)
    base = min(totals[args.jobs[0]])
    for jobs, values in totals.items():
        print(f"workers {jobs}: best total {min(values):.1f} s ({base / min(values):.2f}x of {args.jobs[0]})")


if __name__ == "__main__":
    main()
