"""What GraphAF's samples get wrong, counted: rings, chains, bond patterns and elements of a
run's samples against real held-out molecules (issue 13, section 8 of results/graphaf.md).

For held-out molecules and for N samples of a run at each temperature, prints rings and
aromatic rings per molecule, the share of atoms in rings, acyclic double bonds and
rotatable bonds per molecule, the share of molecules holding an acyclic C=C or C=N, an N-N,
N-O or O-O bond or an amide, and each element's share of the heavy atoms.

    python benchmarks/graphaf_chemistry_counts.py --run RUN --heldout heldout.smi \\
        [--n 1000] [--temperatures 0.75 0.5]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402

PATTERNS = {
    "acyclic C=C": "[#6]=!@[#6]",
    "acyclic C=N": "[#6]=!@[#7]",
    "N-N": "[#7]-,=[#7]",
    "N-O": "[#7]-,=[#8]",
    "O-O": "[#8]-[#8]",
    "amide": "C(=O)N",
}


def counts(smiles: list[str | None]) -> dict[str, float]:
    """The statistics above for the valid molecules of ``smiles``."""
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles if s) if m is not None]
    out = {
        "rings": np.mean([rdMolDescriptors.CalcNumRings(m) for m in mols]),
        "aromatic rings": np.mean([rdMolDescriptors.CalcNumAromaticRings(m) for m in mols]),
        "atoms in rings": np.mean([np.mean([a.IsInRing() for a in m.GetAtoms()]) for m in mols]),
        "acyclic double bonds": np.mean(
            [
                sum(b.GetBondType() == Chem.BondType.DOUBLE and not b.IsInRing() for b in m.GetBonds())
                for m in mols
            ]
        ),
        "rotatable bonds": np.mean([rdMolDescriptors.CalcNumRotatableBonds(m) for m in mols]),
    }
    for name, smarts in PATTERNS.items():
        pattern = Chem.MolFromSmarts(smarts)
        out[name] = np.mean([m.HasSubstructMatch(pattern) for m in mols])
    elements = Counter(a.GetSymbol() for m in mols for a in m.GetAtoms())
    total = sum(elements.values())
    out.update({f"element {k}": v / total for k, v in sorted(elements.items())})
    return {k: float(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--heldout", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.75])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    columns = {"held-out": counts(list(read_molecules(args.heldout).smiles[: args.n]))}
    task = load_task(args.run, "best")
    for t in args.temperatures:
        columns[f"T = {t:g}"] = counts(generate(task.model, args.n, temperature=t, seed=args.seed).smiles)
    keys = sorted({k for c in columns.values() for k in c}, key=lambda k: (k.startswith("element"), k))
    print("| | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for key in keys:
        print(f"| {key} | " + " | ".join(f"{c.get(key, 0.0):.3f}" for c in columns.values()) + " |")


if __name__ == "__main__":
    main()
