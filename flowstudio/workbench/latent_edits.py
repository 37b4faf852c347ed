"""Latent arithmetic for the window (issue 16): shapes moved along an attribute vector between
two groups of the loaded collection, and molecules walked and optimized along a property
direction in GraphAF's latent space.

The pages keep one of these editors each; it caches what a slider move must not recompute
(the attribute vector and the shape's latent; the fitted property direction), so that a
strength change only decodes. Every method runs on the window's job thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.workbench.data import MoleculeEntry
from flowstudio.workbench.points import DISPLAY_POINTS, thin

_RANGE = re.compile(r"^(\d+)\s*(?:-\s*(\d+))?$")


def select_group(text: str, names: list[str], what: str) -> np.ndarray:
    """The indices of a group of shapes written as comma-separated parts: an index (``4``),
    an inclusive range (``0-9``) or any other text, matching the names that contain it
    (case-blind). Bad input names the field ``what``."""
    picked: list[int] = []
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise BadInputError(f"{what}: give shape numbers (0-9, 14) or part of their names")
    for part in parts:
        match = _RANGE.match(part)
        if match:
            lo = int(match.group(1))
            hi = int(match.group(2)) if match.group(2) is not None else lo
            if lo > hi or hi >= len(names):
                raise BadInputError(f"{what}: {part!r} is outside shapes 0-{len(names) - 1}")
            picked.extend(range(lo, hi + 1))
        else:
            found = [i for i, name in enumerate(names) if part.lower() in name.lower()]
            if not found:
                raise BadInputError(f"{what}: no shape name contains {part!r}")
            picked.extend(found)
    return np.array(sorted(set(picked)), dtype=np.int64)


@dataclass(frozen=True)
class EditedShape:
    """A shape and its edit at ``strength``, ready to draw, with a caption."""

    shape: np.ndarray
    edited: np.ndarray
    strength: float
    caption: str


class ShapeArithmetic:
    """The attribute vector between two groups, applied to one shape at any strength."""

    def __init__(self) -> None:
        self._vector_key: tuple | None = None
        self._vector: np.ndarray | None = None
        self._sizes = (0, 0)

    def edit(
        self,
        task: Any,
        shapes: np.ndarray,
        names: list[str],
        source: str,
        target: str,
        index: int,
        strength: float,
    ) -> EditedShape:
        """Shape ``index`` moved along the vector from group ``source`` to group ``target``
        (see :func:`select_group`) at ``strength``, decoded into DISPLAY_POINTS points."""
        from flowstudio.pointclouds.arithmetic import apply_attribute, attribute_vector

        a = select_group(source, names, "From")
        b = select_group(target, names, "To")
        key = (id(task), tuple(a), tuple(b))
        if key != self._vector_key:
            self._vector = attribute_vector(task, shapes[a], shapes[b])
            self._vector_key, self._sizes = key, (len(a), len(b))
        shape = shapes[index]
        edited = apply_attribute(task, shape, self._vector, [strength], p=DISPLAY_POINTS, seed=0)[0]
        norm = float(np.linalg.norm(self._vector))
        caption = (
            f"vector from {self._sizes[0]} to {self._sizes[1]} shapes (|v| = {norm:.3g}) · "
            f"strength {strength:+.2f}: 0 is the reconstruction, 1 the whole difference of the group means"
        )
        return EditedShape(thin(shape), edited, strength, caption)


FIT_MOLECULES = 1000
"""Molecules of the loaded set the window fits a property direction on."""
WALK_STEPS = 8


@dataclass(frozen=True)
class Optimization:
    """What the molecule page shows: the walk's tiles, the best candidate's tile (or none)
    and a one-line summary."""

    walk: list[MoleculeEntry]
    best: MoleculeEntry | None
    summary: str


class MoleculeOptimizer:
    """A property direction fitted on the loaded molecules (cached per model and property),
    a walk along it and the similarity-constrained optimization of one start molecule."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._direction: Any = None

    def direction(self, model: Any, training: list[str], prop: str) -> Any:
        from flowstudio.molecules.chem import parse_smiles
        from flowstudio.molecules.optimize import encodable, fit_direction

        key = (id(model), prop, len(training))
        if key != self._key:
            mols, _ = encodable(model, [parse_smiles(s) for s in training[:FIT_MOLECULES]])
            self._direction = fit_direction(model, mols, prop)
            self._key = key
        return self._direction

    def run(
        self, model: Any, training: list[str], smiles: str, prop: str, similarity: float, distance: float
    ) -> Optimization:
        """Walk ``smiles`` up to ``distance`` along ``prop``'s direction and find the best
        candidate at Tanimoto similarity ≥ ``similarity``."""
        from flowstudio.molecules.chem import parse_smiles
        from flowstudio.molecules.optimize import (
            Search,
            best_candidate,
            candidates,
            check_similarity,
            encodable,
            get_property,
        )

        if len(training) < 4:
            raise BadInputError("load a molecule set first: the property direction is fitted on it")
        check_similarity(similarity)
        spec = get_property(prop)
        start = parse_smiles(smiles.strip())
        kept, reasons = encodable(model, [start])
        if not kept:
            raise BadInputError(f"the model cannot encode the start molecule: {reasons[0]}")
        direction = self.direction(model, training, prop)
        search = Search(steps=WALK_STEPS, max_distance=distance)
        decoded = candidates(model, start, direction, search)
        found = best_candidate(spec, start, decoded, similarity)
        distances = np.linspace(0, distance, WALK_STEPS + 1)[1:]
        steps = zip(distances, decoded.mols[:WALK_STEPS], strict=True)
        walk = [_entry(spec, "start", start)] + [_entry(spec, f"α={a:.1f}", mol) for a, mol in steps]
        r2 = direction.r2_held_out if direction.r2_held_out is not None else direction.r2_fit
        fit = f"direction fitted on {direction.n_molecules} molecules (held-out R² {r2:.2f})"
        if found.smiles is None:
            summary = (
                f"no candidate improves {spec.label} at similarity ≥ {similarity:.2f} "
                f"({found.valid}/{found.candidates} valid); {fit}"
            )
            return Optimization(walk, None, summary)
        best = _entry(spec, f"best · sim {found.similarity:.2f}", parse_smiles(found.smiles))
        before, after = _shown(spec, found.start_value), _shown(spec, found.value)
        summary = (
            f"{spec.label}: {before:.3g} → {after:.3g} at similarity {found.similarity:.2f} "
            f"(≥ {similarity:.2f}; best of {found.candidates} candidates); {fit}"
        )
        return Optimization(walk, best, summary)


def _shown(spec: Any, score: float | None) -> float:
    """A score back in the property's own unit (SA's score is negated)."""
    return float("nan") if score is None else (score if spec.higher_is_better else -score)


def _entry(spec: Any, title: str, mol: Any) -> MoleculeEntry:
    from flowstudio.molecules.chem import canonical_smiles
    from flowstudio.workbench.molecules import entries_for

    if mol is None:
        return MoleculeEntry(None, f"{title} · invalid")
    value = _shown(spec, spec.score(mol))
    return entries_for([canonical_smiles(mol)], [f"{title} · {spec.label} {value:.3g}"])[0]
