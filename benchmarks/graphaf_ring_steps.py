"""At which steps GraphAF's samples lose the data's rings (issue 13, results/graphaf.md 14).

The samples of a quick model carry fewer rings than the data (about 2.1 against 2.6 a
molecule) and more double bonds outside rings. This replays the bond steps in generation
order, for a run's samples (their own order) and for training molecules (one random BFS
ordering within the model's edge window, as training draws them), and counts two things:

- **closing steps** by the distance ``d(i, j)`` in the partial graph: how many bond steps a
  molecule has at which a bond would close a ring of ``d + 1`` atoms (*opportunities*), and
  the share of them that draw a bond (the *hazard*);
- **parent bonds of C and N atoms**: each new atom's first bond, from a C or N atom to a C
  or N atom, by the parent's pi bonds and degree so far: how many per molecule, the share
  drawn double, and the share of those doubles that end up in a ring of the final molecule.

    python benchmarks/graphaf_ring_steps.py --run RUN --data samples/molecules/moses_20k.smi \\
        [--n 1000] [--molecules 1000] [--seed 0] [--bond-temperature 0.667]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.errors import BadInputError  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.graph import apply_order, fitting_order, graph_to_mol, mol_to_graph  # noqa: E402
from flowstudio.molecules.packing import edge_step_pairs  # noqa: E402
from flowstudio.molecules.ring_features import edge_step_rings  # noqa: E402

MAX_D = 9


class Counts:
    """Closing steps by distance and parent bonds by the parent's state, over molecules."""

    def __init__(self) -> None:
        self.molecules = 0
        self.closing = np.zeros((MAX_D + 1, 2))  # (opportunities, bonds) by distance
        self.parents: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # steps, doubles, in ring

    def add(self, atoms: np.ndarray, bonds: np.ndarray, vocab, window: int) -> None:
        mol = graph_to_mol(atoms, bonds, vocab)
        if mol is None:
            return
        self.molecules += 1
        n = len(atoms)
        ei, ej = edge_step_pairs(n, window)
        klass = {(int(i), int(j)): int(c) for i, j, c in bonds}
        if len(ei):
            dist = edge_step_rings(n, bonds, ei, ej)[0]
            drew = np.array([klass.get((int(i), int(j)), 0) > 0 for i, j in zip(ei, ej, strict=True)])
            near = dist <= MAX_D
            np.add.at(self.closing[:, 0], dist[near], 1)
            np.add.at(self.closing[:, 1], dist[near], drew[near])
        elements = [vocab.atoms[t][0] for t in atoms]
        pi, degree, seen = np.zeros(n, int), np.zeros(n, int), set()
        for i, j, c in bonds:  # sorted by (i, j): each atom's first row is its parent bond
            i, j, c = int(i), int(j), int(c)
            if i not in seen and elements[i] in ("C", "N") and elements[j] in ("C", "N"):
                row = self.parents[f"parent pi {min(pi[j], 1)}, degree {min(degree[j], 3)}"]
                row[0] += 1
                if c == 2:
                    row[1] += 1
                    row[2] += mol.GetBondBetweenAtoms(i, j).IsInRing()
            seen.add(i)
            pi[[i, j]] += c - 1
            degree[[i, j]] += 1

    def summary(self) -> dict:
        m = max(self.molecules, 1)
        closing = {
            f"ring of {d + 1}": {"per_molecule": round(o / m, 2), "hazard": round(b / o, 3) if o else None}
            for d, (o, b) in enumerate(self.closing)
            if d >= 2
        }
        parents = {
            k: {"per_molecule": round(s / m, 2), "double": round(d / s, 3) if s else None,
                "double_in_ring": round(r / d, 3) if d else None}
            for k, (s, d, r) in sorted(self.parents.items())
        }
        return {"molecules": self.molecules, "closing_steps": closing, "parent_bonds": parents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", required=True, help="training molecules (SMILES, one a line)")
    parser.add_argument("--n", type=int, default=1000, help="samples")
    parser.add_argument("--molecules", type=int, default=1000, help="training molecules replayed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bond-temperature", type=float, help="the run's own unless given")
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    task = load_task(args.run)
    model, vocab = task.model, task.model.vocab
    if args.bond_temperature is not None:
        model.bond_temperature = args.bond_temperature
    result = generate(model, args.n, temperature=task.values["temperature"], check=True,
                      max_retries=task.values["max_retries"], batch_size=args.n, seed=args.seed)
    samples = Counts()
    for atoms, bonds in zip(result.atoms, result.bonds, strict=True):
        samples.add(atoms, bonds, vocab, vocab.edge_window)
    data, rng = Counts(), np.random.RandomState(args.seed)
    with open(args.data) as lines:
        for line in lines:
            mol = Chem.MolFromSmiles(line.split()[0]) if line.strip() else None
            if mol is None:
                continue
            try:
                graph = mol_to_graph(mol, vocab)
            except BadInputError:  # an element or charge outside the vocabulary, a radical
                continue
            order = fitting_order(graph, vocab.edge_window, rng)
            if order is not None:
                ordered = apply_order(graph, order)
                data.add(ordered.atoms, ordered.bonds, vocab, vocab.edge_window)
            if data.molecules >= args.molecules:
                break
    print(json.dumps({"samples": samples.summary(), "data": data.summary()}, indent=1))


if __name__ == "__main__":
    main()
