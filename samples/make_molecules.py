"""Make the built-in molecule sample set: a deterministic random subset of MOSES.

    python samples/make_molecules.py --source PATH/TO/moses_train.csv.gz

reads the MOSES training split (a ``SMILES`` column, optionally gzipped), keeps the
molecules RDKit parses, draws ``--count`` of them with a seeded generator, and writes
``samples/molecules/moses_20k.smi`` (one canonical SMILES a line, in source order) and the
MOSES licence with its attribution next to it. Running it twice gives identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "molecules"

MIT_LICENSE = """\
MIT License

Copyright (c) 2020 Molecular Sets (MOSES), Polykovskiy et al. 2020, Insilico Medicine

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

README = """\
# Built-in molecule sample set

`moses_20k.smi`: {count} molecules (canonical SMILES, one a line) drawn at random (seed
{seed}) from the training split of Molecular Sets (MOSES), Polykovskiy et al. 2020,
"Molecular Sets (MOSES): A Benchmarking Platform for Molecular Generation Models",
Frontiers in Pharmacology 11:565644, https://github.com/molecularsets/moses
(data/train.csv). MOSES is released under the MIT licence: see LICENSE-MOSES.txt.

Made by `samples/make_molecules.py --source moses_train.csv.gz --count {count} --seed {seed}`.
"""


def read_source(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [c.strip().lower() for c in next(reader)]
        col = header.index("smiles") if "smiles" in header else 0
        return [row[col].strip() for row in reader if row and row[col].strip()]


def make(source: Path, count: int, seed: int, out_dir: Path) -> Path:
    smiles = read_source(source)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(smiles))
    chosen: list[int] = []
    with rdBase.BlockLogs():
        for index in order:  # draw until ``count`` molecules parse (MOSES is clean: ~no retries)
            if Chem.MolFromSmiles(smiles[index]) is not None:
                chosen.append(int(index))
                if len(chosen) == count:
                    break
    chosen.sort()
    lines = [Chem.MolToSmiles(Chem.MolFromSmiles(smiles[i])) for i in chosen]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"moses_{count // 1000}k.smi"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "LICENSE-MOSES.txt").write_text(MIT_LICENSE, encoding="utf-8")
    (out_dir / "README.md").write_text(README.format(count=count, seed=seed), encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, required=True, help="MOSES train.csv(.gz)")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20200)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    target = make(args.source, args.count, args.seed, args.out)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
