"""Real molecules scored as if they were samples: the floor of every ``mols eval`` metric,
and what the chemistry metrics cost.

Two settings, both through the real CLI (``python -m flowstudio mols eval``):

1. ``shipped``: ``--n`` molecules drawn at random from the shipped set (``--train``, by
   default ``samples/molecules/moses_20k.smi``) as the "samples", the rest as the training
   set and reference (no ``--test``). With ``--baseline REV`` the same command also runs on
   the code of git revision ``REV`` (exported to a temporary folder and put first on
   ``PYTHONPATH``), alternating, ``--repeats`` times each: the wall time of eval before and
   after the new metrics.
2. ``held-out`` (when ``--data`` exists): ``--n`` molecules of ``--data`` (MOSES's training
   split) that are not in the shipped set as the samples, ``--test-n`` other ones as
   ``--test``, the shipped set as ``--train``: real molecules a model never saw, judged as
   the GraphAF goals judge samples.

    python benchmarks/molecule_eval_floor.py [--n 1000] [--test-n 10000] [--baseline REV]
        [--data ../shared/data/moses_train.csv.gz] [--fcd] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moses_heldout import read_lines  # noqa: E402  (benchmarks/ is the script's folder)

from flowstudio.molecules.metrics import METRIC_KEYS  # noqa: E402
from flowstudio.molecules.validity import valid_molecules  # noqa: E402

#: The printed rows: every metric but validity before the check, unique@k and IntDiv (a repeat).
TABLE_KEYS = [
    k for k in METRIC_KEYS if k not in {"valid_without_check", "unique@1000", "unique@10000", "IntDiv"}
]


def export_revision(rev: str, folder: Path) -> Path:
    """The ``flowstudio`` package of git revision ``rev``, unpacked under ``folder``."""
    archive = subprocess.run(["git", "archive", rev, "flowstudio"], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_eval(args: list[str], pythonpath: Path | None) -> tuple[dict, float]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = f"{pythonpath}{os.pathsep}{env.get('PYTHONPATH', '')}"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flowstudio", "mols", "eval", *args],
        cwd=pythonpath or ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout), time.perf_counter() - start


def write(path: Path, smiles: list[str]) -> Path:
    path.write_text("".join(f"{s}\n" for s in smiles))
    return path


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value}" if isinstance(value, int) else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=ROOT / "samples" / "molecules" / "moses_20k.smi")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "moses_train.csv.gz")
    parser.add_argument("--n", type=int, default=1000, help="molecules scored as samples")
    parser.add_argument("--test-n", type=int, default=10_000, help="held-out reference molecules")
    parser.add_argument("--baseline", metavar="REV", help="also time eval at this git revision")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fcd", action="store_true", help="include FCD (ChemNet, ~10 ms a molecule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    fcd = [] if args.fcd else ["--no-fcd"]
    results: dict = {"command": " ".join(sys.argv), "load_start": os.getloadavg()[0]}

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shipped = read_lines(args.train)
        pick = set(rng.choice(len(shipped), size=args.n, replace=False).tolist())
        samples = write(tmp / "samples.smi", [s for i, s in enumerate(shipped) if i in pick])
        train = write(tmp / "train.smi", [s for i, s in enumerate(shipped) if i not in pick])
        cli = ["--samples", str(samples), "--train", str(train), *fcd]
        baseline = export_revision(args.baseline, tmp / "baseline") if args.baseline else None
        times: dict[str, list[float]] = {"current": [], "baseline": []}
        for _ in range(args.repeats):
            results["shipped"], seconds = run_eval(cli, None)
            times["current"].append(seconds)
            if baseline is not None:
                results["shipped_baseline"], seconds = run_eval(cli, baseline)
                times["baseline"].append(seconds)
        results["times"] = times
        print(f"shipped set: {args.n} samples vs {len(shipped) - args.n} training molecules, {' '.join(fcd)}")
        for name, values in times.items():
            if values:
                print(f"  eval {name}: " + ", ".join(f"{v:.1f} s" for v in values))

        if args.data.exists():
            known = set(shipped)
            pool = read_lines(args.data)
            order = rng.permutation(len(pool))[: 2 * (args.n + args.test_n)]
            _, canonical = valid_molecules([pool[i] for i in order])
            fresh = list(dict.fromkeys(s for s in canonical if s not in known))
            held = write(tmp / "held.smi", fresh[: args.n])
            test = write(tmp / "test.smi", fresh[args.n : args.n + args.test_n])
            cli = ["--samples", str(held), "--train", str(args.train), "--test", str(test), *fcd]
            results["held_out"], seconds = run_eval(cli, None)
            print(f"held-out MOSES: {args.n} samples, {args.test_n} test, {seconds:.1f} s")

    results["load_end"] = os.getloadavg()[0]
    columns = [k for k in ("shipped", "held_out") if k in results]
    print("\n| metric | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key in TABLE_KEYS:
        print(f"| {key} | " + " | ".join(fmt(results[c].get(key)) for c in columns) + " |")
    print(f"load average {results['load_start']:.1f} at the start, {results['load_end']:.1f} at the end")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
