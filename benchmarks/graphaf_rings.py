"""Do GraphAF's samples have the data's rings? The ring ablation's scoring script.

For each run (``LABEL=RUN_FOLDER``) and each check mode, draws N molecules from the best
checkpoint at the given temperature and scores them with ``flowstudio.molecules.metrics``
(``mols eval``'s metrics) against held-out molecules that no run trained on:

- ``check``: the valency check and the ring check with the run's allowed ring sizes;
- ``valency``: the valency check only (``--ring-sizes any``);
- ``none``: no check at all (``--no-check``).

The floor row scores N *real* held-out molecules (not in the reference) the same way: the
FCD that a perfect model would get at this N. Prints one Markdown table and the ring-size
histograms, writes the numbers as JSON, and with ``--grid`` a picture of 24 random samples
(the first 24 valid ones drawn by the first run with its check) beside 24 random training
molecules.

    python benchmarks/graphaf_rings.py --runs A=RUN_A B=RUN_B --train moses_20k.smi \\
        --heldout heldout.smi [--n 1000] [--temperature 0.75] [--grid grid.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import Draw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.molecules.chemistry_check import format_ring_sizes  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402
from flowstudio.molecules.metrics import evaluate  # noqa: E402
from flowstudio.molecules.properties import property_values  # noqa: E402
from flowstudio.molecules.rings import fused_ring_systems, ring_size_counts, ring_systems  # noqa: E402

MODES = ("check", "valency", "none")
COLUMNS = (
    ("valid", "valid"), ("valid_without_check", "valid w/o check"), ("unique", "unique"), ("novel", "novel"),
    ("ring_unusual_share", "unusual rings"), ("ring_size_tv", "ring-size TV"), ("FCD/Test", "FCD"),
    ("qed_mean", "QED mean"), ("at_cap", "at cap"), ("heavy_atoms", "size W1"), ("Filters", "Filters"),
    ("aromatic_ring_share", "aromatic rings"), ("partly_saturated_share", "partly saturated rings"),
)


def ring_kinds(mols: list[Chem.Mol]) -> tuple[float, float]:
    """Of all SSSR rings: the share that RDKit calls aromatic, and the share that is *partly
    saturated* (not aromatic, yet with a double bond between two of its atoms: a
    dihydropyridine, a cyclopentadiene, a quinoid ring), the bond-order errors a chemist sees."""
    aromatic = partly = total = 0
    for mol in mols:
        info = mol.GetRingInfo()
        for bonds in info.BondRings():
            total += 1
            kinds = [mol.GetBondWithIdx(b) for b in bonds]
            if all(b.GetIsAromatic() for b in kinds):
                aromatic += 1
            elif any(b.GetBondType() == Chem.BondType.DOUBLE for b in kinds):
                partly += 1
    return aromatic / max(1, total), partly / max(1, total)


def ring_systems_means(mols: list[Chem.Mol]) -> tuple[float, float]:
    """Ring systems a molecule and, of those, fused ones (two rings or more; session 16
    found the missing rings there), by :func:`flowstudio.molecules.rings.ring_systems`."""
    count = max(1, len(mols))
    systems = sum(len(ring_systems(mol)) for mol in mols)
    return systems / count, sum(fused_ring_systems(mol) for mol in mols) / count


def score(
    smiles: list[str | None], train: list[str], reference: list[str], without: float | None, cap: int
) -> dict:
    metrics = evaluate(smiles, train, reference, valid_without_check=without, max_reference=None)
    mols = [Chem.MolFromSmiles(s) for s in smiles if s is not None]
    values = property_values(mols)
    metrics["qed_mean"] = float(values["QED"].mean())
    metrics["at_cap"] = float(np.mean(values["heavy_atoms"] >= cap))
    metrics["ring_counts"] = ring_size_counts(mols)
    metrics["rings_mean"] = float(np.mean([m.GetRingInfo().NumRings() for m in mols])) if mols else 0.0
    metrics["aromatic_ring_share"], metrics["partly_saturated_share"] = ring_kinds(mols)
    metrics["ring_systems_mean"], metrics["fused_systems_mean"] = ring_systems_means(mols)
    return metrics


def row(label: str, m: dict) -> str:
    cells = [f"{m[key]:.3f}" if key in m else "-" for key, _ in COLUMNS]
    return f"| {label} | " + " | ".join(cells) + " |"


def histogram(label: str, counts: dict[int, int]) -> str:
    total = max(1, sum(counts.values()))
    return f"{label:28s} " + "  ".join(f"{k}:{v / total:.3f}" for k, v in sorted(counts.items()))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The runs, the data and the sizes every GraphAF scoring benchmark takes."""
    parser.add_argument("--runs", nargs="+", required=True, help="LABEL=RUN_FOLDER")
    parser.add_argument("--train", required=True)
    parser.add_argument("--heldout", required=True, help="molecules no run trained on (floor, reference)")
    parser.add_argument("--reference-size", type=int, default=5000)
    parser.add_argument("--n", type=int, default=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--temperature", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--grid", help="PNG: 24 samples of the first run beside 24 training molecules")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = read_molecules(args.train).smiles
    heldout = read_molecules(args.heldout).smiles
    floor_set, reference = heldout[: args.n], heldout[args.n : args.n + args.reference_size]
    results: dict[str, dict] = {}
    cap = 0
    grid_samples: list[str] = []
    for spec in args.runs:
        label, _, run = spec.partition("=")
        task = load_task(run, "best")
        model, cap = task.model, task.vocab.max_atoms
        sizes = model.ring_sizes
        for mode in args.modes:
            model.ring_sizes = sizes if mode == "check" else None
            out = generate(model, args.n, temperature=args.temperature, check=mode != "none", seed=args.seed)
            without = out.validity if mode == "none" else out.validity_without_check
            name = f"{label}, {mode}" + (f" (rings {format_ring_sizes(sizes)})" if mode == "check" else "")
            results[name] = score(out.smiles, train, reference, without, cap)
            print(row(name, results[name]), flush=True)
            if args.grid and not grid_samples and mode == "check":
                grid_samples = [s for s in out.smiles if s is not None][:24]
        model.ring_sizes = sizes
    results["real held-out molecules (floor)"] = score(list(floor_set), train, reference, None, cap)
    print("\n| run, check | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("| --- |" + " ---: |" * len(COLUMNS))
    for name, m in results.items():
        print(row(name, m))
    print("\nring sizes (share of all SSSR rings):")
    for name, m in results.items():
        print(histogram(name, m["ring_counts"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    if args.grid:
        draw_grid(grid_samples, train, args.seed, args.grid)


def draw_grid(samples: list[str], train: list[str], seed: int, path: str) -> None:
    """A PNG of ``samples`` (24, not chosen) above 24 random training molecules (seeded)."""
    rng = np.random.default_rng(seed)
    picks = [train[k] for k in rng.choice(len(train), 24, replace=False)]
    mols = [Chem.MolFromSmiles(s) for s in samples + picks]
    legends = [f"sample {k + 1}" for k in range(len(samples))] + [f"training {k + 1}" for k in range(24)]
    Draw.MolsToGridImage(mols, molsPerRow=8, subImgSize=(250, 200), legends=legends).save(path)


if __name__ == "__main__":
    main()
