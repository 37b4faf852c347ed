"""What the metrics need of a reference set (the test set, else the training set), computed
once and cached: repeated evaluations against the same set (the window's Metrics button, a
run evaluated at several checkpoints) then only pay for the generated molecules.

The reference is a seeded random subset of at most ``max_reference`` molecules
(:func:`reference_subset`). Two statistics use an evenly spread part of it (:func:`spread`),
so that the reference does not dominate the time of an evaluation of 1,000 samples:

- the property distributions, at most :data:`PROPERTIES_MAX_REFERENCE` molecules (QED and
  SA cost ~1-2 ms a molecule); the Wasserstein distance to 1,000 samples then varies
  with the sample, not with the reference;
- the ``Filters`` pass rate, at most :data:`FILTERS_MAX_REFERENCE` molecules (PAINS matching
  costs ~3 ms a molecule); the standard error of a rate near 0.99 is 0.002 at 2,000.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from rdkit import Chem

from flowstudio.molecules.fcd import chemnet_statistics
from flowstudio.molecules.filters import fraction_passing_filters
from flowstudio.molecules.fragments import brics_fragments, murcko_scaffolds
from flowstudio.molecules.parsing import BATCH, map_in_order, worker_count
from flowstudio.molecules.properties import property_values
from flowstudio.molecules.rings import (
    acyclic_double_share,
    ring_double_share,
    ring_size_counts,
    ring_system_kinds,
    unseen_ring_system_share,
    unusual_ring_share,
)
from flowstudio.molecules.similarity import morgan_fingerprints
from flowstudio.molecules.validity import parse_valid, valid_molecules

#: The reference's property distributions are measured on at most this many of its molecules.
PROPERTIES_MAX_REFERENCE = 5_000

#: The reference's ``Filters`` rate is measured on at most this many of its molecules.
FILTERS_MAX_REFERENCE = 2_000

T = TypeVar("T")


def reference_subset(smiles: Sequence[str], limit: int | None, seed: int = 0) -> list[str]:
    """A seeded random subset of at most ``limit`` entries, in their original order
    (all of them when ``limit`` is ``None`` or not smaller)."""
    items = list(smiles)
    if limit is None or len(items) <= limit:
        return items
    index = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
    return [items[i] for i in index]


def spread(mols: Sequence[Chem.Mol], limit: int) -> list[Chem.Mol]:
    """At most ``limit`` of ``mols``, evenly spaced over the whole sequence."""
    if len(mols) <= limit:
        return list(mols)
    return list(mols[:: math.ceil(len(mols) / limit)])


@dataclass
class ReferenceStatistics:
    """The statistics of one reference set that :func:`~flowstudio.molecules.metrics.evaluate`
    compares generated molecules with."""

    size: int
    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict[str, np.ndarray]
    ring_counts: dict[int, int]
    ring_unusual_share: float
    acyclic_double_share: float
    ring_double_share: float
    filters: float
    canonical: list[str]
    chemnet: dict[str, dict[str, np.ndarray] | None] = field(default_factory=dict)  # per device
    ring_system_kinds: list[list[str]] | None = None  # per molecule, when first asked for

    def chemnet_statistics(self, device: str) -> dict[str, np.ndarray] | None:
        if device not in self.chemnet:
            self.chemnet[device] = chemnet_statistics(self.canonical, device)
        return self.chemnet[device]

    def unseen_ring_system_share(self, known: frozenset[str]) -> float:
        """The share of the reference's molecules with a ring system not in ``known``. Their
        kinds (:func:`~flowstudio.molecules.rings.ring_system_kinds`) are read on the first
        call, as ChemNet's statistics are: only a held-out test set reports this share."""
        if self.ring_system_kinds is None:
            self.ring_system_kinds = [ring_system_kinds(Chem.MolFromSmiles(s)) for s in self.canonical]
        return unseen_ring_system_share(self.ring_system_kinds, known)


_reference_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_reference_lock = threading.Lock()
_REFERENCE_CACHE_SIZE = 6  # two evaluations' reference statistics and ring systems


def _cached(what: str, smiles: Sequence[str], compute: Callable[[], T]) -> T:
    """``compute()``, from a small cache keyed by ``what`` and the exact list ``smiles``."""
    key = (what, hashlib.sha256("\n".join(smiles).encode("utf-8", "replace")).hexdigest())
    with _reference_lock:
        if key in _reference_cache:
            _reference_cache.move_to_end(key)
            return _reference_cache[key]
    value = compute()
    with _reference_lock:
        _reference_cache[key] = value
        while len(_reference_cache) > _REFERENCE_CACHE_SIZE:
            _reference_cache.popitem(last=False)
    return value


def reference_statistics(smiles: Sequence[str]) -> ReferenceStatistics:
    """The :class:`ReferenceStatistics` of ``smiles`` (its valid entries), cached."""

    def compute() -> ReferenceStatistics:
        mols, canonical = valid_molecules(smiles)
        return ReferenceStatistics(
            size=len(mols),
            fingerprints=morgan_fingerprints(mols),
            fragments=brics_fragments(mols),
            scaffolds=murcko_scaffolds(mols),
            properties=property_values(spread(mols, PROPERTIES_MAX_REFERENCE)),
            ring_counts=ring_size_counts(mols),
            ring_unusual_share=unusual_ring_share(mols),
            acyclic_double_share=acyclic_double_share(mols),
            ring_double_share=ring_double_share(mols),
            filters=fraction_passing_filters(spread(mols, FILTERS_MAX_REFERENCE)),
            canonical=canonical,
        )

    return _cached("reference", smiles, compute)


def training_ring_systems(smiles: Sequence[str]) -> frozenset[str]:
    """The kinds of ring system (:func:`~flowstudio.molecules.rings.ring_system_kinds`) that
    the valid molecules of ``smiles`` hold, cached: what ``unseen_ring_systems`` looks up.
    About 0.15 ms a molecule, in worker processes for big sets (as the task reads its data)."""

    def compute() -> frozenset[str]:
        jobs = ((None, list(smiles[k:k + BATCH])) for k in range(0, len(smiles), BATCH))
        kinds: set[str] = set()
        with closing(map_in_order(_kinds_of, jobs, worker_count(None))) as done:
            for _, part in done:
                kinds |= part
        return frozenset(kinds)

    return _cached("ring systems", smiles, compute)


def _kinds_of(texts: list[str]) -> set[str]:
    """The kinds of ring system of the valid molecules among ``texts`` (runs in workers)."""
    kinds: set[str] = set()
    for text in texts:
        mol = parse_valid(text)
        if mol is not None:
            kinds.update(ring_system_kinds(mol))
    return kinds
