"""Which kinds of ring system generated molecules hold, looked up among a training set's.

A ring system is a set of rings joined by shared atoms (fused, bridged or spiro), named by
:func:`flowstudio.molecules.rings.ring_system_kinds` (its ring atoms and bonds alone). For
each file of molecules the script reports, per molecule, the ring systems, the fused ones
(two rings or more) and the fused ones of kinds the training molecules hold; the share of
fused systems of kinds they do not hold; and the share of molecules with any ring system
the training molecules lack (``mols eval``'s ``unseen_ring_systems``). Held-out real
molecules give the floor: how often new molecules bring a new ring system.

    python benchmarks/graphaf_ring_systems.py --train samples/molecules/moses_20k.smi \\
        --samples test.smi run1.smi run2.smi [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rdkit import RDLogger

from flowstudio.molecules.io import read_molecules
from flowstudio.molecules.reference import training_ring_systems
from flowstudio.molecules.rings import ring_systems_by_kind
from flowstudio.molecules.validity import valid_molecules


def ring_system_counts(smiles: list[str], known: frozenset[str]) -> dict[str, float]:
    """Per-molecule means and shares of the valid molecules of ``smiles`` (see the module docstring)."""
    mols, _ = valid_molecules(smiles)
    systems = [ring_systems_by_kind(mol) for mol in mols]
    n = max(1, len(mols))
    fused = [kind for per in systems for kind, rings in per if rings > 1]
    unseen_fused = sum(kind not in known for kind in fused)
    return {
        "molecules": len(mols),
        "ring_systems": sum(map(len, systems)) / n,
        "fused": len(fused) / n,
        "known_fused": (len(fused) - unseen_fused) / n,
        "unseen_fused_share": unseen_fused / max(1, len(fused)),
        "unseen_ring_systems": sum(any(kind not in known for kind, _ in per) for per in systems) / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="the training molecules (their kinds are known)")
    parser.add_argument("--samples", nargs="+", required=True, help="files of molecules to count")
    parser.add_argument("--json", help="also write the counts here")
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    known = training_ring_systems(read_molecules(args.train).smiles)
    print(f"{args.train}: {len(known)} kinds of ring system")
    print("file | molecules | ring systems | fused | known fused | unseen share of fused | with unseen")
    results = {}
    for path in args.samples:
        counts = ring_system_counts(read_molecules(path, require_valid=False).smiles, known)
        results[path] = counts
        columns = ("ring_systems", "fused", "known_fused", "unseen_fused_share", "unseen_ring_systems")
        print(" | ".join([Path(path).name, str(counts["molecules"]), *(f"{counts[c]:.3f}" for c in columns)]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
