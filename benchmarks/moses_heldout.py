"""Held-out MOSES files for the GraphAF benchmarks, drawn the same way every time.

Validation and test molecules must be molecules no model here trained on: MOSES's training
split without the shipped ``samples/molecules/moses_20k.smi``. Earlier sessions drew them
with a one-off command into ``/tmp`` and lost them with the machine, so results from
different sessions were scored against different files. This script makes the draw a
command: the remaining molecules in file order, shuffled by ``random.Random(seed)``, then cut
into consecutive, disjoint files of the given sizes (in the order given, so
``val.smi:6000 test.smi:5000`` always gives the same 6,000 and the same next 5,000).

    python benchmarks/moses_heldout.py --seed 0 --out val6k.smi:6000 test5k.smi:5000 \\
        [--data ../shared/data/moses_train.csv.gz] [--exclude samples/molecules/moses_20k.smi]
"""

from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_lines(path: Path) -> list[str]:
    """The first field of each line of a SMILES or MOSES csv file (optionally gzipped), its
    header and comment lines left out (also ``molecule_eval_floor.py``'s reader)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        lines = [line.split(",")[0].strip() for line in fh]
    return [s for s in lines if s and s != "SMILES" and not s.startswith("#")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/moses_train.csv.gz")
    parser.add_argument("--exclude", type=Path, nargs="*", default=[ROOT / "samples/molecules/moses_20k.smi"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", nargs="+", required=True, metavar="FILE:N")
    args = parser.parse_args()
    excluded = {s for path in args.exclude for s in read_lines(path)}
    pool = [s for s in read_lines(args.data) if s not in excluded]
    random.Random(args.seed).shuffle(pool)
    start = 0
    for spec in args.out:
        name, _, count = spec.rpartition(":")
        n = int(count)
        if start + n > len(pool):
            raise SystemExit(f"{spec}: only {len(pool) - start} molecules left of {len(pool)}")
        Path(name).write_text("\n".join(pool[start : start + n]) + "\n")
        print(f"{name}: molecules {start} to {start + n - 1} of {len(pool)} (seed {args.seed})")
        start += n


if __name__ == "__main__":
    main()
