"""GraphAF quick-preset training steps per minute with and without the batch-packing worker.

The quick preset trains on one intra-op thread on the CPU, and packing each batch took about
a fifth of that thread (py-spy); ``pack_worker`` packs the next batch in a second process
(``flowstudio.molecules.prefetch``). This runs the real CLI as a user does
(``flowstudio mols train``, quick preset, live samples and validation as shipped, the END
calibration off because it runs after the budget) for ``--minutes`` each with
``pack_worker=off`` and ``=on``, alternating (off, on, on, off, ...), and reports the steps
each made, the steps per minute and the ratio of the medians. Both runs see the same
batches, so the steps are the whole difference. Run it on an idle machine:

    flock /tmp/flowstudio-bench.lock python benchmarks/graphaf_pack_worker.py \\
        --mols samples/molecules/moses_20k.smi --minutes 2.5 --rounds 2
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


def steps_in(data: str, minutes: float, setting: str) -> dict[str, float]:
    """Train for ``minutes`` with ``pack_worker=setting``; the steps made and the wall time."""
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        args = ["-m", "flowstudio", "mols", "train", "--data", data, "--out", str(run), "--minutes",
                str(minutes), "--device", "cpu", "--set", "size_calibration=0",
                "--set", f"pack_worker={setting}"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("OMP_NUM_THREADS", None)  # the engine's own choice for GraphAF (1 thread)
        started = time.monotonic()
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
        wall = time.monotonic() - started
        if out.returncode != 0:
            raise SystemExit(f"pack_worker={setting} failed:\n{out.stderr[-3000:]}")
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = max(r["step"] for r in records)
    return {"steps": steps, "per_min": steps / minutes, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mols", required=True, help="SMILES data (.smi, .csv, .csv.gz)")
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"off": [], "on": []}
    print(f"| round | pack_worker | load (1 min) before | steps in {args.minutes:g} min | steps/min "
          "| wall s |")
    print("|---|---|---|---|---|---|")
    for r in range(args.rounds):
        for setting in ("off", "on") if r % 2 == 0 else ("on", "off"):
            load = os.getloadavg()[0]
            m = steps_in(args.mols, args.minutes, setting)
            rates[setting].append(m["per_min"])
            print(f"| {r + 1} | {setting} | {load:.1f} | {m['steps']:.0f} | {m['per_min']:.1f} "
                  f"| {m['wall_s']:.0f} |", flush=True)
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"\nmedian steps/min: off {off:.1f}, on {on:.1f}, ratio on/off = {on / off:.2f}")


if __name__ == "__main__":
    main()
