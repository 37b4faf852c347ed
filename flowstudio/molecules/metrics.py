"""MOSES metrics of generated molecules (Polykovskiy et al. 2020, "Molecular Sets (MOSES):
A Benchmarking Platform for Molecular Generation Models"), and the metrics that expose
implausible chemistry which MOSES's headline numbers hide.

:func:`evaluate` returns every metric under its published name. ``G`` is the list of
generated entries, ``V`` its valid molecules (in order, duplicates kept), ``R`` the
reference set (the test set, else the training set; a seeded subset of at most
``max_reference`` molecules, see :mod:`.reference`). ``docs/molecule-metrics.md`` explains
each for users; the definitions:

- ``valid``: |V| / |G| (:mod:`.validity`).
- ``valid_without_check``: passed through from the generator (the fraction of molecules
  that needed no valency correction), when given.
- ``unique@1000``, ``unique@10000``, ``unique``: distinct canonical SMILES among the first
  k valid molecules / k (all of V when fewer than k, as MOSES does).
- ``novel``: fraction of the distinct valid canonical SMILES that are not in the training set.
- ``IntDiv1``, ``IntDiv2``: ``1 - (mean over all ordered pairs (x, y) of V x V of
  T(x, y)^p)^(1/p)`` for p = 1, 2 (the paper's formula), Morgan r=2 1024-bit Tanimoto;
  the pairs x = y are included, as in MOSES. (MOSES's code takes the p-th root per
  molecule before averaging; for p = 1 both agree.) ``IntDiv`` repeats ``IntDiv1``.
- ``SNN/Test``: mean over V of the highest Tanimoto similarity to any molecule of R.
- ``Frag/Test``, ``Scaf/Test``: cosine similarity of the BRICS fragment and of the
  Bemis–Murcko scaffold count vectors of V and R (:mod:`.fragments`).
- ``FCD/Test``: Fréchet ChemNet Distance between V and R (see :mod:`.fcd`).
- ``Filters``: share of V passing MOSES's medicinal-chemistry and PAINS filters
  (:mod:`.filters`); ``Filters_ref``: the same share of R (at most 2,000 of its molecules),
  the rate real molecules reach.
- ``logP``, ``SA``, ``QED``, ``weight``, ``heavy_atoms``, ``rings``, ``aromatic_rings``,
  ``fused_ring_systems``: Wasserstein-1 distance between the property distributions of V
  and R (:mod:`.properties`; R's from at most 5,000 of its molecules, see
  :mod:`.reference`), with
  ``heavy_atoms_mean`` (V) and ``heavy_atoms_mean_ref`` (R): a model that inflates its
  validity with tiny molecules shows here.
- ``ring_unusual_share`` (V) and ``ring_unusual_share_ref`` (R): share of molecules with a
  ring smaller than 5 or larger than 7 atoms; ``ring_size_tv`` and ``ring_size_w1``: total
  variation and W1 between the ring-size distributions of V and R (:mod:`.rings`).
- ``acyclic_double_share`` (V) and ``acyclic_double_share_ref`` (R): share of molecules with
  a C=C, C=N or N=N double bond outside any ring (:mod:`.rings`): unclosed Kekulé rings,
  dienes, enamines and imines, what most medicinal-chemistry alerts catch.
- ``ring_double_share`` (V) and ``ring_double_share_ref`` (R): share of molecules with a
  C=C, C=N or N=N double bond in a ring that is not aromatic (:mod:`.rings`): a partly
  unsaturated ring, such as a dihydropyridine, drawn where an aromatic ring was meant.
- ``unseen_ring_systems`` (V) and ``unseen_ring_systems_ref`` (R, when it is the test set):
  share of molecules with a ring system (rings joined by shared atoms, substituents left
  out) that no molecule of the training set holds (:func:`.rings.unseen_ring_system_share`):
  rings fused or bridged in ways the data never shows.
- ``n_samples``, ``n_valid``, ``n_reference``: the set sizes.

Metrics that cannot be computed (no valid molecule, FCD of fewer than two, no ring) are ``nan``.
:func:`distribution_histograms` gives the histograms behind the distances, for plotting.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from flowstudio.molecules.fcd import frechet_chemnet_distance
from flowstudio.molecules.filters import filter_failure_counts
from flowstudio.molecules.fragments import brics_fragments, cosine_similarity, murcko_scaffolds
from flowstudio.molecules.properties import (
    Histogram,
    count_histogram,
    property_distances,
    property_histograms,
    property_values,
)
from flowstudio.molecules.reference import (
    ReferenceStatistics,
    reference_statistics,
    reference_subset,
    training_ring_systems,
)
from flowstudio.molecules.rings import (
    acyclic_double_share,
    ring_double_share,
    ring_size_counts,
    ring_size_distance,
    ring_system_kinds,
    unseen_ring_system_share,
    unusual_ring_share,
)
from flowstudio.molecules.similarity import max_similarity, mean_power_similarity, morgan_fingerprints
from flowstudio.molecules.validity import fraction_valid, valid_molecules

#: Keys of :func:`evaluate`, in the order they are printed.
METRIC_KEYS = (
    "valid",
    "valid_without_check",
    "unique@1000",
    "unique@10000",
    "unique",
    "novel",
    "IntDiv1",
    "IntDiv2",
    "IntDiv",
    "SNN/Test",
    "Frag/Test",
    "Scaf/Test",
    "FCD/Test",
    "Filters",
    "Filters_ref",
    "logP",
    "SA",
    "QED",
    "weight",
    "heavy_atoms",
    "rings",
    "aromatic_rings",
    "fused_ring_systems",
    "heavy_atoms_mean",
    "heavy_atoms_mean_ref",
    "ring_unusual_share",
    "ring_unusual_share_ref",
    "ring_size_tv",
    "ring_size_w1",
    "acyclic_double_share",
    "acyclic_double_share_ref",
    "ring_double_share",
    "ring_double_share_ref",
    "unseen_ring_systems",
    "unseen_ring_systems_ref",
    "n_samples",
    "n_valid",
    "n_reference",
)


def fraction_unique(canonical: Sequence[str], k: int | None = None) -> float:
    """Distinct canonical SMILES among the first ``k`` (all when ``None`` or fewer) / their count."""
    head = list(canonical[:k] if k is not None else canonical)
    return len(set(head)) / len(head) if head else math.nan


def fraction_novel(canonical: Sequence[str], train_canonical: set[str]) -> float:
    """Distinct canonical SMILES not in the training set / distinct canonical SMILES."""
    distinct = set(canonical)
    return len(distinct - train_canonical) / len(distinct) if distinct else math.nan


def internal_diversity(fps: np.ndarray, p: int = 1, device: str = "cpu") -> float:
    """``1 - (mean over all ordered pairs of T^p)^(1/p)``, pairs x = y included."""
    if len(fps) == 0:
        return math.nan
    return 1.0 - mean_power_similarity(fps, p=p, device=device) ** (1.0 / p)


def nearest_neighbour_similarity(fps: np.ndarray, ref_fps: np.ndarray, device: str = "cpu") -> float:
    """Mean over the generated molecules of the highest Tanimoto similarity to the reference."""
    if len(fps) == 0 or len(ref_fps) == 0:
        return math.nan
    return float(max_similarity(fps, ref_fps, device=device).mean())


def _reference(
    train: Sequence[str], test: Sequence[str] | None, max_reference: int | None, seed: int
) -> ReferenceStatistics:
    return reference_statistics(reference_subset(test if test is not None else train, max_reference, seed))


def evaluate(
    samples: Sequence[str | None],
    train: Sequence[str],
    test: Sequence[str] | None = None,
    *,
    valid_without_check: float | None = None,
    device: str = "cpu",
    max_reference: int | None = 10_000,
    canonicalize_train: bool = True,
    fcd: bool = True,
    seed: int = 0,
    filter_reasons: bool = False,
    unseen_kinds: bool = False,
) -> dict[str, Any]:
    """All the metrics of ``samples`` (see the module docstring for definitions), floats;
    with ``filter_reasons`` also ``Filters_failures``, the count of valid samples failing
    each filter rule (:func:`~.filters.filter_failure_counts`, most frequent first), from
    the same pass over the filters as ``Filters``; with ``unseen_kinds`` also
    ``unseen_ring_system_kinds``, each kind of ring system the training set lacks with the
    count of valid samples' systems of that kind (most frequent first).

    Args:
        samples: generated SMILES in generation order; ``None`` marks a failed sample.
        train: training SMILES (for novelty; the reference too when ``test`` is None).
        test: held-out SMILES: the reference of SNN, Frag, Scaf, FCD, the properties, the
            ring sizes and ``Filters_ref``.
        valid_without_check: reported as is when given.
        device: where Tanimoto blocks and ChemNet run (``"cpu"``, ``"cuda"``).
        max_reference: use a seeded random subset of at most this many reference
            molecules (``None``: all); ChemNet and QED cost ~10 ms and ~1 ms a molecule
            on a CPU. The reference's statistics are cached (:func:`reference_statistics`).
        canonicalize_train: set False when ``train`` already holds canonical SMILES
            (e.g. from :func:`~flowstudio.molecules.io.read_molecules`), saving a pass.
        fcd: set False to skip FCD (``nan``), the slowest metric on a CPU.
        seed: of the reference subset.
    """
    results: dict[str, float] = {"valid": fraction_valid(samples)}
    if valid_without_check is not None:
        results["valid_without_check"] = float(valid_without_check)
    mols, canonical = valid_molecules(samples)
    for k in (1000, 10000):
        results[f"unique@{k}"] = fraction_unique(canonical, k)
    results["unique"] = fraction_unique(canonical)

    train_set = set(valid_molecules(train)[1]) if canonicalize_train else set(train)
    results["novel"] = fraction_novel(canonical, train_set)

    ref = _reference(train, test, max_reference, seed)

    fps = morgan_fingerprints(mols)
    results["IntDiv1"] = internal_diversity(fps, p=1, device=device)
    results["IntDiv2"] = internal_diversity(fps, p=2, device=device)
    results["IntDiv"] = results["IntDiv1"]
    results["SNN/Test"] = nearest_neighbour_similarity(fps, ref.fingerprints, device=device)
    results["Frag/Test"] = cosine_similarity(brics_fragments(mols), ref.fragments)
    results["Scaf/Test"] = cosine_similarity(murcko_scaffolds(mols), ref.scaffolds)
    if fcd:
        results["FCD/Test"] = frechet_chemnet_distance(canonical, ref.chemnet_statistics(device), device)
    else:
        results["FCD/Test"] = math.nan
    failures = filter_failure_counts(mols)
    results["Filters"] = (len(mols) - sum(failures.values())) / len(mols) if mols else math.nan
    results["Filters_ref"] = ref.filters

    generated = property_values(mols)
    results.update(property_distances(generated, ref.properties))
    results["heavy_atoms_mean"] = float(generated["heavy_atoms"].mean()) if len(mols) else math.nan
    results["heavy_atoms_mean_ref"] = float(ref.properties["heavy_atoms"].mean()) if ref.size else math.nan

    results["ring_unusual_share"] = unusual_ring_share(mols)
    results["ring_unusual_share_ref"] = ref.ring_unusual_share
    distance = ring_size_distance(ring_size_counts(mols), ref.ring_counts)
    results["ring_size_tv"], results["ring_size_w1"] = distance["tv"], distance["w1"]
    results["acyclic_double_share"] = acyclic_double_share(mols)
    results["acyclic_double_share_ref"] = ref.acyclic_double_share
    results["ring_double_share"] = ring_double_share(mols)
    results["ring_double_share_ref"] = ref.ring_double_share
    known = training_ring_systems(train)
    kinds = [ring_system_kinds(m) for m in mols]
    results["unseen_ring_systems"] = unseen_ring_system_share(kinds, known)
    if test is not None:
        results["unseen_ring_systems_ref"] = ref.unseen_ring_system_share(known)
    results["n_samples"] = len(samples)
    results["n_valid"] = len(mols)
    results["n_reference"] = ref.size
    report: dict[str, Any] = {key: results[key] for key in METRIC_KEYS if key in results}
    if filter_reasons:
        report["Filters_failures"] = failures
    if unseen_kinds:
        unseen = Counter(kind for per in kinds for kind in per if kind not in known)
        report["unseen_ring_system_kinds"] = dict(unseen.most_common())
    return report


def distribution_histograms(
    samples: Sequence[str | None],
    train: Sequence[str],
    test: Sequence[str] | None = None,
    *,
    max_reference: int | None = 10_000,
    seed: int = 0,
) -> dict[str, Histogram]:
    """Histograms of the valid ``samples`` over the reference set (the same reference, and
    cache, as :func:`evaluate` with these arguments): one per property of
    :data:`~flowstudio.molecules.properties.PROPERTY_FUNCTIONS` (``"QED"``, ``"rings"``, ...)
    and ``"ring_size"``, rings by size over all molecules (:func:`.rings.ring_size_counts`)."""
    mols, _ = valid_molecules(samples)
    ref = _reference(train, test, max_reference, seed)
    histograms = property_histograms(property_values(mols), ref.properties)
    histograms["ring_size"] = count_histogram(ring_size_counts(mols), ref.ring_counts)
    return histograms
