"""GraphAF generation speed: today's code against a baseline checkout, in the same run.

Each measurement is a fresh process (``--worker``) that imports ``flowstudio`` from the
given source tree, loads a run's checkpoint and times ``generate`` of N molecules with the
check on (valency, and the ring check where the code and the run have one), after a
50-molecule warm-up. Rounds alternate between the versions, so that changes in the load of
a shared machine hit both alike. Both get the same intra-op thread setting
(``OMP_NUM_THREADS``, default 2: the machine's two cores); what each version then does
with it is part of what is measured. With ``--cli`` the whole ``flowstudio mols sample``
command (start-up, loading, generation and writing a .smi file) is timed as well.

    python benchmarks/graphaf_generation_speed.py --baseline-src /tmp/baseline \\
        --run RUN_WITHOUT_RING_FEATURES [--run-new RUN_WITH_RING_FEATURES] [--n 1000] [--rounds 3] [--cli]
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def worker(src: str, run: str, n: int, seed: int) -> None:
    sys.path.insert(0, src)
    import torch

    from flowstudio.cli.mols import load_task
    from flowstudio.molecules.generate import generate

    model = load_task(run, "best").model
    generate(model, 50, seed=seed + 1)
    start = time.perf_counter()
    out = generate(model, n, seed=seed)
    seconds = time.perf_counter() - start
    sizes = [m.GetNumAtoms() for m in out.mols if m is not None]
    print(json.dumps({
        "seconds": seconds,
        "valid_per_s": len(sizes) / seconds,
        "valid": out.validity,
        "valid_without_check": out.validity_without_check,
        "mean_atoms": sum(sizes) / max(1, len(sizes)),
        "ring_sizes": getattr(model, "ring_sizes", None),
        "threads": torch.get_num_threads(),
    }))


def measure(src: str, run: str, n: int, seed: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": src}
    command = [sys.executable, __file__, "--worker", "--src", src, "--run", run]
    command += ["--n", str(n), "--seed", str(seed)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{src}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_cli(src: str, run: str, n: int, seed: int, threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": src}
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "flowstudio", "mols", "sample", "--run", run, "--n", str(n),
                   "--seed", str(seed), "--out", str(Path(tmp) / "s.smi")]
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=src, capture_output=True, check=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--src", default=str(ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--baseline-src", help="a checkout of the code to compare with")
    parser.add_argument("--run", required=True, help="a run both versions can load")
    parser.add_argument("--run-new", help="a run of today's model (ring features), timed with today's code")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cli", action="store_true", help="also time the whole 'mols sample' command")
    args = parser.parse_args()
    if args.worker:
        worker(args.src, args.run, args.n, args.seed)
        return
    if not args.baseline_src:
        parser.error("--baseline-src is required")
    variants = [("baseline", args.baseline_src, args.run), ("today", str(ROOT), args.run)]
    if args.run_new:
        variants.append(("today, ring-feature run", str(ROOT), args.run_new))
    results: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    for r in range(args.rounds):
        for name, src, run in variants:
            result = measure(src, run, args.n, args.seed + r, args.threads)
            if args.cli:
                result["cli_seconds"] = measure_cli(src, run, args.n, args.seed + r, args.threads)
            results[name].append(result)
            print(f"round {r + 1} {name}: {json.dumps(result)}", flush=True)
    print(f"\n{args.n} molecules per round, {args.threads} threads, median (range) of {args.rounds} rounds")
    base = float(np.median([x["valid_per_s"] for x in results["baseline"]]))
    for name, _, _ in variants:
        rows = results[name]
        speeds = [x["valid_per_s"] for x in rows]
        speed = float(np.median(speeds))
        line = (
            f"{name:26s} {speed:7.1f} valid/s ({min(speeds):.1f}-{max(speeds):.1f}; {speed / base:5.1f}x)  "
            f"valid w/o check {rows[0]['valid_without_check']:.3f}  mean atoms {rows[0]['mean_atoms']:.1f}"
        )
        if args.cli:
            line += f"  mols sample: {np.median([x['cli_seconds'] for x in rows]):.1f} s"
        print(line)


if __name__ == "__main__":
    main()
