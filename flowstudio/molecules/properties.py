"""Property distributions of a set of molecules, their distance to a reference set's, and
the histograms that show the two side by side.

Properties (MOSES names where MOSES has one):

- ``logP``: Crippen's octanol-water partition coefficient (Wildman & Crippen 1999);
- ``SA``: synthetic accessibility, 1 (easy) to 10 (hard) (Ertl & Schuffenhauer 2009);
- ``QED``: quantitative estimate of drug-likeness, 0 to 1 (Bickerton et al. 2012);
- ``weight``: molecular weight in g/mol;
- ``heavy_atoms``: atoms other than hydrogen;
- ``rings``: rings in RDKit's ring perception (the symmetrized SSSR);
- ``aromatic_rings``: rings of aromatic atoms and bonds only;
- ``fused_ring_systems``: ring systems of two rings or more sharing atoms (indole,
  quinoline, tetralin; :func:`flowstudio.molecules.rings.fused_ring_systems`).

The distance of each is the Wasserstein-1 (earth mover's) distance between the two
one-dimensional empirical distributions, ``W1 = integral |F(t) - G(t)| dt`` with ``F``, ``G``
their cumulative distribution functions (``scipy.stats.wasserstein_distance``), as MOSES
reports for ``logP``, ``SA``, ``QED`` and ``weight``: in the property's own unit, 0 for the
same distribution, and it grows with how far the mass must move (a count distribution shifted
by one ring has W1 = 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors
from scipy.stats import wasserstein_distance

from flowstudio.molecules.chem import sa_score
from flowstudio.molecules.rings import fused_ring_systems

PROPERTY_FUNCTIONS: dict[str, Callable[[Chem.Mol], float]] = {
    "logP": Crippen.MolLogP,
    "SA": sa_score,
    "QED": QED.qed,
    "weight": Descriptors.MolWt,
    "heavy_atoms": lambda mol: mol.GetNumHeavyAtoms(),
    "rings": rdMolDescriptors.CalcNumRings,
    "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "fused_ring_systems": fused_ring_systems,
}

#: Properties that take integer values: their histograms have one bin per integer.
COUNT_PROPERTIES = frozenset({"heavy_atoms", "rings", "aromatic_rings", "fused_ring_systems"})

#: Bins of a histogram of a continuous property.
HISTOGRAM_BINS = 30


def property_values(mols: Sequence[Chem.Mol]) -> dict[str, np.ndarray]:
    """Every property of :data:`PROPERTY_FUNCTIONS` for every molecule, keyed by name."""
    return {
        name: np.array([float(func(m)) for m in mols], dtype=np.float64)
        for name, func in PROPERTY_FUNCTIONS.items()
    }


def property_distances(values: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """W1 between ``values`` and ``reference`` for each property (``nan`` if either is empty)."""
    return {
        name: float(wasserstein_distance(values[name], reference[name]))
        if len(values[name]) and len(reference[name])
        else math.nan
        for name in PROPERTY_FUNCTIONS
    }


@dataclass(frozen=True)
class Histogram:
    """Counts of generated and reference values over the same bins.

    ``edges`` has one more entry than each counts array; a count property has bins
    ``[k - 0.5, k + 0.5)`` centred on the integers.
    """

    edges: np.ndarray
    counts: np.ndarray
    reference_counts: np.ndarray

    @staticmethod
    def _shares(counts: np.ndarray) -> np.ndarray:
        total = counts.sum()
        return counts / total if total else np.zeros(len(counts))

    @property
    def shares(self) -> np.ndarray:
        """Generated counts normalized to sum 1 (zeros when there are none)."""
        return self._shares(self.counts)

    @property
    def reference_shares(self) -> np.ndarray:
        """Reference counts normalized to sum 1 (zeros when there are none)."""
        return self._shares(self.reference_counts)


def histogram(
    values: np.ndarray, reference: np.ndarray, *, integer: bool, bins: int = HISTOGRAM_BINS
) -> Histogram:
    """Histogram of ``values`` over ``reference`` on shared bins covering both."""
    both = np.concatenate([np.asarray(values, np.float64), np.asarray(reference, np.float64)])
    if integer:
        low, high = (int(both.min()), int(both.max())) if len(both) else (0, 0)
        edges = np.arange(low, high + 2, dtype=np.float64) - 0.5
    else:
        edges = np.histogram_bin_edges(both, bins=bins) if len(both) else np.linspace(0.0, 1.0, bins + 1)
    return Histogram(edges, np.histogram(values, edges)[0], np.histogram(reference, edges)[0])


def property_histograms(
    values: dict[str, np.ndarray], reference: dict[str, np.ndarray], *, bins: int = HISTOGRAM_BINS
) -> dict[str, Histogram]:
    """One :class:`Histogram` per property of :data:`PROPERTY_FUNCTIONS`."""
    return {
        name: histogram(values[name], reference[name], integer=name in COUNT_PROPERTIES, bins=bins)
        for name in PROPERTY_FUNCTIONS
    }


def count_histogram(counts: dict[int, int], reference: dict[int, int]) -> Histogram:
    """A :class:`Histogram` of two ``{value: count}`` tables (e.g. rings by size), one bin per
    integer from the smallest to the largest value of either."""
    keys = [*counts, *reference]
    low, high = (min(keys), max(keys)) if keys else (0, 0)
    values = range(low, high + 1)
    return Histogram(
        np.arange(low, high + 2, dtype=np.float64) - 0.5,
        np.array([counts.get(k, 0) for k in values], dtype=np.int64),
        np.array([reference.get(k, 0) for k in values], dtype=np.int64),
    )
