"""MOSES metrics of generated molecules (Polykovskiy et al. 2020, "Molecular Sets (MOSES):
A Benchmarking Platform for Molecular Generation Models").

:func:`evaluate` returns every metric under its published name. ``G`` is the list of
generated entries, ``V`` its valid molecules (in order, duplicates kept), ``R`` the
reference set (the test set, else the training set; a seeded subset of at most
``max_reference`` molecules).

- ``valid``: |V| / |G|; an entry is valid when RDKit parses and sanitizes it (``None`` and
  empty strings are invalid).
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
- ``Frag/Test``: cosine similarity of the BRICS fragment count vectors of V and R (each
  molecule cut with ``FragmentOnBRICSBonds``, every fragment occurrence counted).
- ``Scaf/Test``: cosine similarity of the Bemis–Murcko scaffold count vectors; as in
  MOSES, only scaffolds with at least two rings are counted.
- ``FCD/Test``: Fréchet ChemNet Distance between V and R (see :mod:`.fcd`).
- ``logP``, ``SA``, ``QED``, ``weight``: Wasserstein-1 distance between the property
  distributions of V and R (Crippen logP, SA score, QED, molecular weight in g/mol).
- ``heavy_atoms``: Wasserstein-1 distance of the heavy-atom counts, with
  ``heavy_atoms_mean`` (V) and ``heavy_atoms_mean_ref`` (R): a model that inflates its
  validity with tiny molecules shows here.
- ``n_samples``, ``n_valid``, ``n_reference``: the set sizes.

Metrics that cannot be computed (no valid molecule, FCD of fewer than two) are ``nan``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import QED, Crippen, Descriptors
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import wasserstein_distance

from flowstudio.molecules.chem import sa_score
from flowstudio.molecules.fcd import chemnet_statistics, frechet_chemnet_distance
from flowstudio.molecules.similarity import max_similarity, mean_power_similarity, morgan_fingerprints

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
    "logP",
    "SA",
    "QED",
    "weight",
    "heavy_atoms",
    "heavy_atoms_mean",
    "heavy_atoms_mean_ref",
    "n_samples",
    "n_valid",
    "n_reference",
)

PROPERTY_FUNCTIONS = {
    "logP": Crippen.MolLogP,
    "SA": sa_score,
    "QED": QED.qed,
    "weight": Descriptors.MolWt,
    "heavy_atoms": lambda mol: mol.GetNumHeavyAtoms(),
}


def _mol(text: str | None) -> Chem.Mol | None:
    if text is None or not isinstance(text, str) or not text.strip():
        return None
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text.strip())
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def valid_molecules(samples: Sequence[str | None]) -> tuple[list[Chem.Mol], list[str]]:
    """The valid entries as molecules and canonical SMILES, in order, duplicates kept."""
    mols, smiles = [], []
    for text in samples:
        mol = _mol(text)
        if mol is not None:
            mols.append(mol)
            smiles.append(Chem.MolToSmiles(mol))
    return mols, smiles


def fraction_valid(samples: Sequence[str | None]) -> float:
    """Valid entries / all entries (``nan`` for an empty list)."""
    if not samples:
        return math.nan
    return sum(_mol(s) is not None for s in samples) / len(samples)


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


def brics_fragments(mols: Sequence[Chem.Mol]) -> Counter:
    """Counts of BRICS fragments (canonical SMILES with their dummy attachment atoms)."""
    counts: Counter = Counter()
    for mol in mols:
        counts.update(Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split("."))
    return counts


def murcko_scaffolds(mols: Sequence[Chem.Mol], min_rings: int = 2) -> Counter:
    """Counts of Bemis–Murcko scaffolds with at least ``min_rings`` rings (MOSES's choice)."""
    counts: Counter = Counter()
    for mol in mols:
        try:
            scaffold = MurckoScaffold.GetScaffoldForMol(mol)
        except Exception:  # RDKit fails on a few exotic ring systems; MOSES skips them too
            continue
        text = Chem.MolToSmiles(scaffold)
        if text and scaffold.GetRingInfo().NumRings() >= min_rings:
            counts[text] += 1
    return counts


def cosine_similarity(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors keyed by name (missing keys count 0)."""
    if not a or not b:
        return math.nan
    keys = sorted(set(a) | set(b))
    va = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    vb = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def property_values(mols: Sequence[Chem.Mol]) -> dict[str, np.ndarray]:
    """logP, SA, QED, weight and heavy-atom count of every molecule."""
    return {
        name: np.array([float(func(m)) for m in mols], dtype=np.float64)
        for name, func in PROPERTY_FUNCTIONS.items()
    }


def _subset(items: list[str], limit: int | None, seed: int) -> list[str]:
    if limit is None or len(items) <= limit:
        return items
    index = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
    return [items[i] for i in index]


@dataclass
class ReferenceStatistics:
    """What the metrics need of a reference set, computed once and reused: repeated
    evaluations against the same training or test set (the GUI's Metrics button, a run
    evaluated at several checkpoints) then only pay for the generated molecules."""

    size: int
    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict[str, np.ndarray]
    canonical: list[str]
    chemnet: dict[str, dict[str, np.ndarray] | None] = field(default_factory=dict)  # per device

    def chemnet_statistics(self, device: str) -> dict[str, np.ndarray] | None:
        if device not in self.chemnet:
            self.chemnet[device] = chemnet_statistics(self.canonical, device)
        return self.chemnet[device]


_reference_cache: OrderedDict[str, ReferenceStatistics] = OrderedDict()
_reference_lock = threading.Lock()
_REFERENCE_CACHE_SIZE = 4


def reference_statistics(smiles: Sequence[str]) -> ReferenceStatistics:
    """The :class:`ReferenceStatistics` of ``smiles`` (its valid entries), from a small
    cache keyed by the exact list."""
    key = hashlib.sha256("\n".join(smiles).encode("utf-8", "replace")).hexdigest()
    with _reference_lock:
        if key in _reference_cache:
            _reference_cache.move_to_end(key)
            return _reference_cache[key]
    mols, canonical = valid_molecules(smiles)
    stats = ReferenceStatistics(
        size=len(mols),
        fingerprints=morgan_fingerprints(mols),
        fragments=brics_fragments(mols),
        scaffolds=murcko_scaffolds(mols),
        properties=property_values(mols),
        canonical=canonical,
    )
    with _reference_lock:
        _reference_cache[key] = stats
        while len(_reference_cache) > _REFERENCE_CACHE_SIZE:
            _reference_cache.popitem(last=False)
    return stats


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
) -> dict[str, float]:
    """All the MOSES metrics of ``samples`` (see the module docstring for definitions).

    Args:
        samples: generated SMILES in generation order; ``None`` marks a failed sample.
        train: training SMILES (for novelty; the reference too when ``test`` is None).
        test: held-out SMILES: the reference of SNN, Frag, Scaf, FCD and the properties.
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

    reference_source = list(test) if test is not None else list(train)
    ref = reference_statistics(_subset(reference_source, max_reference, seed))

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

    generated = property_values(mols)
    for name in PROPERTY_FUNCTIONS:
        if len(mols) and ref.size:
            results[name] = float(wasserstein_distance(generated[name], ref.properties[name]))
        else:
            results[name] = math.nan
    results["heavy_atoms_mean"] = float(generated["heavy_atoms"].mean()) if len(mols) else math.nan
    results["heavy_atoms_mean_ref"] = float(ref.properties["heavy_atoms"].mean()) if ref.size else math.nan
    results["n_samples"] = len(samples)
    results["n_valid"] = len(mols)
    results["n_reference"] = ref.size
    return {key: results[key] for key in METRIC_KEYS if key in results}
