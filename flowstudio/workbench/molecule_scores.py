"""Molecule likelihood scores and GraphAF's invertibility check for the window, Qt-free.

The molecule Scores page ranks a set of molecules (the loaded data set, or another file)
by one score of :mod:`flowstudio.molecules.scores`, marks the outliers of the set (the
rule of :func:`~flowstudio.workbench.scores.outlier_mask`) and draws the molecules in
ranked order; its "Check invertibility" button shows the diagnostics of
:mod:`flowstudio.molecules.diagnostics`. This module computes what the page draws (on the
job thread, reporting progress into a :class:`~flowstudio.workbench.evaluation.ProgressBox`)
and the texts it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.workbench.data import MoleculeEntry
from flowstudio.workbench.evaluation import ProgressBox
from flowstudio.workbench.scores import OUTLIER_MADS, flow_lines, outlier_mask, ranking

MAX_SCORED_MOLECULES = 5000
"""Molecules of a set the window scores (the first ones; the CLI scores any number)."""
SCORE_LABELS = {
    "log_likelihood_per_atom": "log-likelihood per heavy atom",
    "log_likelihood": "log-likelihood of the graph (penalizes size)",
    "typicality": "typicality (distance from the model's typical value)",
}
DEFAULT_SCORE = "log_likelihood_per_atom"
"""The whole-graph log-likelihood falls with every atom, so it ranks large molecules as
anomalous whatever they are; per atom it does not (no molecule AUROC is measured yet)."""
WARNING = (
    "A flow can give higher likelihood to data it never saw (Nalisnick et al. 2019): rank by more "
    "than one score, and read the whole-graph log-likelihood knowing that it falls with every atom. "
    "A molecule the model cannot generate (an atom type it lacks, too many atoms) scores -inf."
)


@dataclass(frozen=True)
class RankedMolecules:
    """A set of molecules scored: ``order`` runs from the most anomalous molecule to the most
    typical by ``score``; ``outliers[i]`` marks molecule ``i``; ``reasons[i]`` says why a
    molecule has probability zero ("" when it has not)."""

    smiles: list[str]
    names: list[str]
    atoms: np.ndarray
    score: str
    columns: dict[str, np.ndarray]
    reasons: list[str]
    order: np.ndarray
    outliers: np.ndarray
    source: str

    def value(self, index: int) -> float:
        return float(self.columns[self.score][index])

    def by(self, score: str) -> RankedMolecules:
        """The same molecules ranked by another score."""
        values = self.columns[score]
        return replace(self, score=score, order=ranking(values), outliers=outlier_mask(values))

    def label(self, index: int) -> str:
        """The molecule's name, else its SMILES."""
        return self.names[index] or self.smiles[index]

    def entries(self, start: int, count: int) -> list[MoleculeEntry]:
        """Depiction tiles of the molecules ranked ``start`` to ``start + count``: the rank and
        score as the title, properties, and an ``outlier`` badge."""
        from flowstudio.workbench.molecules import entries_for

        indices = [int(i) for i in self.order[start : start + count]]
        titles = [f"#{start + k + 1}  {self._value_text(i)}  {self.label(i)}" for k, i in enumerate(indices)]
        badges = [("outlier",) if self.outliers[i] else () for i in indices]
        return entries_for([self.smiles[i] for i in indices], titles, badges)

    def _value_text(self, index: int) -> str:
        value = self.value(index)
        return f"{value:.2f}" if np.isfinite(value) else "-inf"

    @property
    def caption(self) -> str:
        n_out = int(self.outliers.sum())
        impossible = sum(bool(r) for r in self.reasons)
        text = (
            f"{len(self.smiles)} molecules of {self.source} ranked by {SCORE_LABELS[self.score]}, most "
            f"anomalous first; {n_out} outlier{'' if n_out == 1 else 's'} (more than {OUTLIER_MADS:g} robust "
            "deviations below the median"
        )
        text += f", {impossible} the model cannot generate). " if impossible else "). "
        return text + WARNING


def rank_molecules(
    model: Any,
    smiles: list[str],
    names: list[str],
    source: str,
    score: str = DEFAULT_SCORE,
    progress: ProgressBox | None = None,
    seed: int = 0,
) -> RankedMolecules:
    """Score the first :data:`MAX_SCORED_MOLECULES` molecules under a GraphAF ``model`` and
    rank them by ``score``; ``progress`` follows the reference draw, then the scoring."""
    from flowstudio.molecules.scores import reference_scores, score_molecules

    box = progress or ProgressBox()
    smiles, names = list(smiles)[:MAX_SCORED_MOLECULES], list(names)[:MAX_SCORED_MOLECULES]
    box.stage = "drawing the model's typical set"
    reference = reference_scores(model, seed=seed)
    box(0.2)
    box.stage = f"scoring {len(smiles)} molecules"
    scores = score_molecules(
        model, smiles, names, reference=reference, seed=seed, progress=lambda f: box(0.2 + 0.8 * f)
    )
    n = len(smiles)
    ranked = RankedMolecules(
        scores.smiles, scores.names, scores.atoms, score, scores.columns, scores.reasons,
        np.arange(n), np.zeros(n, bool), source,
    )
    return ranked.by(score)


def rank_file(
    model: Any, path: str | Path, score: str = DEFAULT_SCORE, progress: ProgressBox | None = None
) -> RankedMolecules:
    """Read a molecule file (any format the readers know) and rank its molecules."""
    from flowstudio.molecules.io import read_molecules

    box = progress or ProgressBox()
    box.stage = f"reading {Path(path).name}"
    molecules = read_molecules(path)
    return rank_molecules(model, molecules.smiles, molecules.names, Path(path).name, score, box)


def diagnose_model(model: Any, smiles: list[str], names: list[str]) -> dict[str, Any]:
    """GraphAF's invertibility diagnostics on the first molecules of a set (JSON-able)."""
    from flowstudio.molecules.chem import parse_smiles
    from flowstudio.molecules.diagnostics import DIAGNOSED_MOLECULES, diagnose

    some = smiles[: 4 * DIAGNOSED_MOLECULES]  # room for the ones it cannot encode
    return diagnose(model, [parse_smiles(s) for s in some], names[: len(some)])


def diagnostics_text(report: dict[str, Any]) -> str:
    """A few plain lines: one per step flow (or that the steps are classifiers), the graph
    round trips, then the flags or none."""
    flows = report["flows"]
    lines = flow_lines(flows) if flows else ["atom and bond steps: classifiers (no flow to invert)"]
    graphs = report["graph_round_trip"]
    lines.append(
        "graph round trip (encode, decode through the model): "
        + ", ".join(
            f"{trip['molecules'] - trip['failed']} of {trip['molecules']} {what} come back the same"
            for what, trip in graphs.items()
        )
    )
    if report["flags"]:
        lines += [f"⚠ {flag}" for flag in report["flags"]]
    else:
        lines.append(
            "No flag: every step inverts, its log-determinant matches, each molecule decodes back."
            if flows
            else "No flag: each molecule decodes back."
        )
    return "\n".join(lines)

