"""Likelihood scores of molecules under GraphAF: rank a set by how well the model explains it.

GraphAF (Shi et al. 2020) generates a molecule as a sequence of node and edge steps in a
BFS order, each step a dequantized categorical choice mapped to a Gaussian by an
autoregressive flow; the log-likelihood of a molecule's graph under one node order is the
sum over its steps of ``log N(z) + log|det dz/dx|``. Scores here, each higher for "more
like the training data" (see :mod:`flowstudio.flows.scoring` for why the likelihood alone
can mislead, Nalisnick et al. 2019):

``log_likelihood``
    the exact log-density of the molecule's graph under one deterministic BFS order
    (seeded), dequantized at the midpoint of each step's unit box (the encoding
    :mod:`flowstudio.molecules.latent` uses), in nats. It grows more negative with every
    atom, so it ranks large molecules as unlikely.
``log_likelihood_per_atom``
    the same divided by the heavy-atom count: likelihood without the size penalty.
``typicality``
    ``log_likelihood_per_atom`` as a typicality test (Nalisnick et al. 2019b): minus its
    distance from the typical value of the model's own samples, in their standard
    deviations.

A molecule the model cannot generate at all (an atom or bond type outside its vocabulary,
more atoms than it draws, no BFS order within its edge window, several fragments) has
probability zero: every score is ``-inf`` and ``reason`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.flows.scoring import typicality
from flowstudio.molecules.chem import parse_smiles
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, apply_order, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.packing import pack_steps

SCORES: dict[str, str] = {
    "log_likelihood": "exact log-density of the graph under one BFS order (nats)",
    "log_likelihood_per_atom": "log_likelihood per heavy atom (nats)",
    "typicality": "minus the distance of the per-atom value from its typical value on the model's own "
    "samples, in their standard deviations (Nalisnick et al. 2019)",
}
REFERENCE_MOLECULES = 64
"""Model samples whose per-atom log-likelihoods define the typical value."""
BATCH = 256


@dataclass
class MoleculeScores:
    """Scores of a set of molecules; ``columns[score]`` is (N,), ``atoms`` the heavy-atom
    counts, ``reasons`` why a molecule has probability zero ("" when it does not)."""

    smiles: list[str]
    names: list[str]
    atoms: np.ndarray
    columns: dict[str, np.ndarray]
    reasons: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, object]]:
        """One dict per molecule: smiles, name, atoms, every score and the reason."""
        out = []
        for i, smiles in enumerate(self.smiles):
            row: dict[str, object] = {"smiles": smiles, "name": self.names[i], "atoms": int(self.atoms[i])}
            row.update({score: float(values[i]) for score, values in self.columns.items()})
            row["reason"] = self.reasons[i]
            out.append(row)
        return out


@torch.no_grad()
def log_likelihoods(
    model: GraphAF, mols: list[Chem.Mol], seed: int = 0, progress: Callable[[float], None] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The exact log-likelihood of each molecule's graph (nats), ``-inf`` with a reason for a
    molecule the model cannot generate. ``progress(fraction)`` after each batch."""
    vocab = model.vocab
    rng = np.random.default_rng(seed)
    values = np.full(len(mols), -np.inf)
    reasons = [""] * len(mols)
    ordered, where = [], []
    for k, mol in enumerate(mols):
        try:
            graph = mol_to_graph(mol, vocab)
        except BadInputError as exc:
            reasons[k] = str(exc)
            continue
        if graph.num_atoms > vocab.max_atoms:
            reasons[k] = f"{graph.num_atoms} atoms, more than the model's {vocab.max_atoms}"
            continue
        order = fitting_order(graph, vocab.edge_window, rng)
        if order is None:
            reasons[k] = f"no BFS order keeps every bond within the edge window {vocab.edge_window}"
            continue
        ordered.append(apply_order(graph, order))
        where.append(k)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(ordered), BATCH):
            packed = pack_steps(ordered[start : start + BATCH], vocab).to(device)
            node_noise = torch.full((packed.node_target.numel(), model.node_latent_dim), 0.5, device=device)
            edge_noise = torch.full((packed.edge_target.numel(), NUM_EDGE_CLASSES), 0.5, device=device)
            per_node, per_edge = model.log_likelihood(packed, node_noise, edge_noise)
            for offset, value in enumerate((per_node + per_edge).double().cpu().numpy()):
                values[where[start + offset]] = value
            if progress is not None:
                progress(min(1.0, (start + BATCH) / len(ordered)))
    finally:
        model.train(was_training)
    return values, reasons


def reference_scores(model: GraphAF, n: int = REFERENCE_MOLECULES, seed: int = 0) -> np.ndarray:
    """Per-atom log-likelihoods of ``n`` molecules the model draws at temperature 1 (with
    its valency check): the reference of the typicality test."""
    drawn = generate(model, n, temperature=1.0, check=True, seed=seed)
    mols = [m for m in drawn.mols if m is not None]
    if not mols:
        raise BadInputError("the model drew no valid molecule to define the typical set")
    values, _ = log_likelihoods(model, mols, seed)
    atoms = np.array([m.GetNumHeavyAtoms() for m in mols], dtype=np.float64)
    return values / atoms


def score_molecules(
    model: GraphAF,
    smiles: list[str],
    names: list[str] | None = None,
    *,
    reference: np.ndarray | None = None,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> MoleculeScores:
    """Every score of each SMILES (canonical SMILES as the readers give them);
    ``progress(fraction)`` as the likelihoods are computed."""
    if not smiles:
        raise BadInputError("no molecules to score")
    mols = [parse_smiles(text) for text in smiles]
    values, reasons = log_likelihoods(model, mols, seed, progress)
    atoms = np.array([m.GetNumHeavyAtoms() for m in mols], dtype=np.int64)
    per_atom = values / np.maximum(atoms, 1)
    if reference is None:
        reference = reference_scores(model, seed=seed)
    columns = {
        "log_likelihood": values,
        "log_likelihood_per_atom": per_atom,
        "typicality": np.where(np.isfinite(per_atom), typicality(per_atom, reference), -np.inf),
    }
    names = list(names) if names is not None else [""] * len(smiles)
    return MoleculeScores(list(smiles), names, atoms, columns, reasons)
