"""Do a GraphAF run's samples have the data's sizes? Size statistics of its samples.

For each run folder and temperature, draws N molecules from the best checkpoint (with the
valency check, as ``mols sample`` does) and prints validity without the check, uniqueness,
the mean number of heavy atoms, the share at the model's size cap, and the Wasserstein-1
distance between the sample and reference size distributions (in atoms, as ``mols eval``
computes its ``heavy_atoms`` score). Runs whose END step is calibrated (``size_calibration``)
are also sampled with the calibration switched off, the uncalibrated model of the same
weights.

    python benchmarks/graphaf_sizes.py --runs RUN_A RUN_B --reference moses_next5k.smi \\
        [--temperatures 0.75 0.6 1.0] [--n 2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from scipy.stats import wasserstein_distance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402


def describe(model, n: int, temperature: float, ref_sizes: np.ndarray, seed: int) -> str:
    out = generate(model, n, temperature=temperature, check=True, seed=seed)
    sizes = np.array([m.GetNumAtoms() for m in out.mols if m is not None])
    smiles = [s for s in out.smiles if s is not None]
    cap = model.vocab.max_atoms
    unique = len(set(smiles)) / max(1, len(smiles))
    return (
        f"valid w/o check {out.validity_without_check:.3f}  unique {unique:.3f}  "
        f"mean atoms {sizes.mean():.2f}  at cap {np.mean(sizes >= cap):.1%}  "
        f"under 10 {np.mean(sizes < 10):.1%}  W1 {wasserstein_distance(sizes, ref_sizes):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--reference", required=True, help="molecules whose sizes are the target")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.75])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ref = read_molecules(args.reference)
    ref_sizes = np.array([Chem.MolFromSmiles(s).GetNumAtoms() for s in ref.smiles])
    print(f"reference {args.reference}: {len(ref_sizes)} molecules, mean atoms {ref_sizes.mean():.2f}")
    for run in args.runs:
        model = load_task(run, "best", "cpu").model
        cap = model.vocab.max_atoms
        print(f"{run}: reference at the {cap}-atom cap {np.mean(ref_sizes >= cap):.1%}")
        offsets = model.end_offset.clone()
        for t in args.temperatures:
            print(f"  T={t:g}: {describe(model, args.n, t, ref_sizes, args.seed)}", flush=True)
            if offsets.any():
                model.end_offset.zero_()
                plain = describe(model, args.n, t, ref_sizes, args.seed)
                print(f"  T={t:g}, uncalibrated: {plain}", flush=True)
                model.end_offset.copy_(offsets)


if __name__ == "__main__":
    main()
