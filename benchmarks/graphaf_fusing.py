"""Where GraphAF loses fused ring systems: in its fit, or in the states it reaches by itself?

A *closure* step is a bond step ``(i, j)`` between the new atom ``i`` and an atom ``j``
already connected to it (the bond would close a ring of ``d(i, j) + 1`` atoms; only rings
of 3 to 7 atoms are counted). It is *fusing* when an atom on a shortest ``i``-``j`` path
already lies on a ring (the ring-flag rule of :mod:`flowstudio.molecules.ring_features`):
the ring it would close shares atoms with one, and the molecule gains a fused, spiro or
bridged ring system. For each set of molecules the script teacher-forces the model
through every step and reports, per molecule, how many fusing (and plain) closure steps
there were (*opportunities*), the model's expected bonds at them (the sum of its
``P(bond)``) and the bonds actually there:

- on held-out molecules, each in a random BFS order that fits the edge window: whether
  the model's ``P(bond)`` is calibrated on the data's own states;
- on the model's own samples, each in its generation order (the states generation saw,
  so "expected" is what the sampler drew from at temperature 1): whether the states the
  model reaches by itself offer as many fusing closures, and as likely ones (also counted
  apart: the steps where a bond is likely, above :data:`LIKELY`).

Before the closure steps it counts how fused rings begin (:func:`ring_starts`): atoms typed
as ring atoms whose first bond went to an atom already on a ring, how many of them end on
a ring, and how many share that ring atom.

Needs a run with ``categorical_steps`` (the bond steps' probabilities are explicit).

    python benchmarks/graphaf_fusing.py --run RUN --heldout heldout.smi [--n 1000] \\
        [--temperatures 1.0/1.0 0.9/0.6] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, RDLogger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from graphaf_recipe import parse_temperature  # noqa: E402

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.errors import BadInputError  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.graph import (  # noqa: E402
    AtomVocabulary,
    OrderedGraph,
    apply_order,
    fitting_order,
    graph_to_mol,
    mol_to_graph,
)
from flowstudio.molecules.graphaf import GraphAF  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402
from flowstudio.molecules.packing import edge_step_pairs, pack_steps  # noqa: E402
from flowstudio.molecules.ring_features import distance_snapshots, snapshot_rank  # noqa: E402
from flowstudio.molecules.rings import fused_ring_systems  # noqa: E402

LIKELY = 0.2
"""A closure step above this ``P(bond)`` is one where the ring is likely to close: nearly all
the data's fusing bonds come from such steps, a few a molecule, while most fusing closure
steps have a ``P(bond)`` near zero."""


def closure_kinds(graph: OrderedGraph, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fusing, plain)`` masks over a molecule's bond steps in generation order: closure
    steps of a 3- to 7-membered ring whose shortest path does / does not touch a ring atom."""
    n = len(graph.atoms)
    ei, ej = edge_step_pairs(n, window)
    dist, ring = distance_snapshots(n, graph.bonds)
    rank = snapshot_rank(n, graph.bonds, ei, ej)
    d = dist[rank, ei, ej]
    closes = (d >= 2) & (d <= 6)  # connected (d < FAR) without a bond yet (d >= 2)
    on_path = dist[rank, ei, :] + dist[rank, :, ej] == d[:, None]
    touches = (on_path & (ring[rank] > 0)).any(axis=1)
    return closes & touches, closes & ~touches


def ring_starts(graph: OrderedGraph, vocab: AtomVocabulary) -> tuple[int, int, int]:
    """How rings begin off a ring: atoms typed as ring atoms (``ring_types``; else the atoms
    on a ring at the end) whose first bond went to an atom already on a ring; how many of
    them are on a ring at the end; and how many of those first bonds are on a ring at the end
    (the new ring shares that atom, fused or spiro, instead of hanging off it by a single
    bond as in biphenyl)."""
    mol = graph_to_mol(graph.atoms, graph.bonds.tolist(), vocab)
    assert mol is not None  # valid molecules only
    ring = distance_snapshots(len(graph.atoms), graph.bonds)[1]
    info = mol.GetRingInfo()
    begun = finished = shared = 0
    first = np.unique(graph.bonds[:, 0], return_index=True)[1]  # bonds sorted by (i, j): i's parent
    for k in first:
        i, j = int(graph.bonds[k, 0]), int(graph.bonds[k, 1])
        on_ring = info.NumAtomRings(i) > 0
        typed = vocab.on_ring[graph.atoms[i]] if vocab.on_ring else on_ring
        if typed and ring[k][j]:  # ring flags before bond k
            begun += 1
            finished += on_ring
            shared += info.NumBondRings(mol.GetBondBetweenAtoms(i, j).GetIdx()) > 0
    return begun, finished, shared


def bond_probabilities(model: GraphAF, graphs: list[OrderedGraph]) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced ``P(bond)`` and the bond class at every bond step of ``graphs``."""
    packed = pack_steps(graphs, model.vocab)
    # A classifier step's "log-determinant" is log P(target): ask for class 0, "no bond".
    none = dataclasses.replace(packed, edge_target=torch.zeros_like(packed.edge_target))
    with torch.no_grad():
        log_p_none = model.step_latents(none)[3]
    return (1 - log_p_none.exp()).numpy(), packed.edge_target.numpy()


def report(label: str, model: GraphAF, graphs: list[OrderedGraph], fused: list[int]) -> None:
    p_bond, target = bond_probabilities(model, graphs)
    masks = [closure_kinds(g, model.vocab.edge_window) for g in graphs]
    m = len(graphs)
    print(f"{label}: {m} molecules, fused ring systems {np.mean(fused):.3f} a molecule")
    begun, finished, shared = np.sum([ring_starts(g, model.vocab) for g in graphs], axis=0)
    print(
        f"  ring atoms begun off a ring atom {begun / m:.3f}, on a ring at the end {finished / m:.3f}, "
        f"sharing the ring atom {shared / m:.3f}"
    )
    for k, kind in enumerate(("fusing", "plain")):
        sel = np.concatenate([mask[k] for mask in masks])
        likely = sel & (p_bond > LIKELY)
        print(
            f"  {kind:6s} closure steps {sel.sum() / m:6.3f}, expected bonds {p_bond[sel].sum() / m:.3f}, "
            f"bonds there {(target[sel] > 0).sum() / m:.3f}, mean P(bond) {p_bond[sel].mean():.4f}; "
            f"with P(bond) > {LIKELY:g}: {likely.sum() / m:.3f} steps, "
            f"{p_bond[likely].sum() / m:.3f} expected bonds",
            flush=True,
        )


def heldout_graphs(model: GraphAF, smiles: list[str], seed: int) -> tuple[list[OrderedGraph], list[int]]:
    rng = np.random.default_rng(seed)
    graphs, fused = [], []
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        try:
            graph = mol_to_graph(mol, model.vocab)
        except BadInputError:  # an atom outside the run's vocabulary
            continue
        order = fitting_order(graph, model.vocab.edge_window, rng)
        if order is not None:
            graphs.append(apply_order(graph, order))
            fused.append(fused_ring_systems(mol))
    return graphs, fused


def sampled_graphs(model: GraphAF, n: int, text: str, seed: int) -> tuple[list[OrderedGraph], list[int]]:
    """The model's valid molecules without the checks, in their generation order."""
    node_t, edge_t = parse_temperature(text)
    out = generate(model, n, temperature=node_t, edge_temperature=edge_t, check=False, seed=seed)
    valid = [k for k, mol in enumerate(out.mols) if mol is not None]
    return [out.ordered_graph(k) for k in valid], [fused_ring_systems(out.mols[k]) for k in valid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--heldout", required=True, help="molecules the run did not train on")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--temperatures", nargs="+", default=["1.0/1.0", "0.9/0.6"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    torch.set_num_threads(1)
    model = load_task(args.run, "best").model.eval()
    if not model.config.categorical_steps:
        raise SystemExit("the run's bond steps are flows: train with categorical_steps")
    smiles = read_molecules(args.heldout).smiles[: args.n]
    graphs, fused = heldout_graphs(model, smiles, args.seed)
    report("held-out molecules (teacher-forced, random BFS order)", model, graphs, fused)
    for text in args.temperatures:
        graphs, fused = sampled_graphs(model, args.n, text, args.seed)
        report(f"own samples at {text} (teacher-forced, generation order)", model, graphs, fused)


if __name__ == "__main__":
    main()
