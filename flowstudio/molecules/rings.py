"""Ring sizes of a set of molecules, and how far they are from a reference set's.

A generator that adds one bond at a time can close rings of any size; drug-like molecules
(MOSES, ZINC) hold almost only five- and six-membered rings, some seven- and three-membered
ones, and no macrocycles. Validity, uniqueness and novelty do not see the difference;
these counts do.

Rings are those of the smallest set of smallest rings (SSSR, ``Chem.GetSSSR``): one ring per
independent cycle (bonds - atoms + fragments of them), each as small as possible, so that
naphthalene counts two six-membered rings and not also the ten-membered perimeter.

- :func:`ring_size_counts`: how many rings of each size a set holds, over all molecules.
- :func:`unusual_ring_share`: the share of molecules with at least one ring whose size is
  not allowed (by default smaller than 5 or larger than 7 atoms).
- :func:`ring_systems`: the rings of each ring system (rings joined by shared atoms), so
  that fused systems (two rings or more: indole, quinoline, tetralin, spiro rings) can be
  counted; a third of MOSES molecules hold one, and a generator that closes rings one at a
  time can draw nearly as many ring systems as the data while drawing half its fused ones.
- :func:`ring_system_kinds`: each ring system as the SMILES of its ring atoms and bonds, so
  that a generated molecule's ring systems can be looked up among the training set's
  (:func:`unseen_ring_system_share`). In the 5,000 MOSES test molecules 2.1% carry a ring
  system that none of the 20,000 shipped training molecules has; GraphAF's quick models drew
  10-12% (``benchmarks/results/graphaf.md``, section 22): medicinal chemists screen
  generated molecules against the ring systems of known compounds for this reason.
- :func:`acyclic_double_share`: the share of molecules with a C=C, C=N or N=N double bond
  outside any ring: a ring begun in Kekulé form and never closed, or a diene, enamine or
  imine side chain, which drug-like molecules rarely carry (1.4% of MOSES test molecules
  have such a C=C, 0.2% a C=N) and which make most of the medicinal-chemistry alerts.
- :func:`ring_double_share`: the share of molecules with a C=C, C=N or N=N double bond in a
  ring that is not aromatic: a partly unsaturated ring, such as a dihydropyridine or a
  pyrazoline. 1.4% of MOSES test molecules have one; GraphAF's quick models drew 6.3-6.9%,
  mostly of kinds the data never has: rings built in Kekulé form whose double bonds did not
  come out alternating.
- :func:`ring_size_distance`: total variation ``TV(p, q) = 1/2 sum_k |p_k - q_k|`` between
  the two sets' ring-size distributions (each ring-size histogram normalized to sum 1), a
  number in [0, 1]: the largest difference in the probability the two sets give any group
  of ring sizes; and Wasserstein-1 ``W1(p, q) = sum_k |P_k - Q_k|`` over the integer sizes
  (``P``, ``Q`` the cumulative distributions), the mean number of atoms by which a ring
  must grow or shrink to turn one distribution into the other. TV says how much of the
  mass is misplaced, W1 also how far.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

import numpy as np
from rdkit import Chem

#: A double bond between two C or N atoms that is in no ring (see :func:`acyclic_double_share`).
ACYCLIC_DOUBLE = Chem.MolFromSmarts("[#6,#7]=!@[#6,#7]")

#: A double bond between two C or N atoms in a ring that is not aromatic (see :func:`ring_double_share`).
RING_DOUBLE = Chem.MolFromSmarts("[#6,#7]=;@[#6,#7]")

#: Ring sizes that :func:`unusual_ring_share` accepts by default: 5 to 7 atoms.
USUAL_RING_SIZES: tuple[int, ...] = (5, 6, 7)


def ring_sizes(mol: Chem.Mol) -> list[int]:
    """The sizes (atom counts) of the rings of ``mol``'s SSSR."""
    return [len(ring) for ring in Chem.GetSSSR(mol)]


def ring_systems(mol: Chem.Mol) -> list[int]:
    """How many SSSR rings each ring system of ``mol`` holds, one entry a system: rings
    that share an atom belong to one system (fused, bridged or spiro). Naphthalene gives
    ``[2]``, biphenyl ``[1, 1]``, an acyclic molecule ``[]``."""
    systems: list[tuple[set[int], int]] = []
    for ring in Chem.GetSSSR(mol):
        atoms, rings = set(ring), 1
        for joined in [s for s in systems if s[0] & atoms]:
            systems.remove(joined)
            atoms, rings = atoms | joined[0], rings + joined[1]
        systems.append((atoms, rings))
    return [rings for _, rings in systems]


def _ring_skeleton(mol: Chem.Mol) -> Chem.Mol | None:
    """The ring atoms and ring bonds of ``mol`` as a molecule of their own, one fragment a ring
    system, with hydrogens that follow its own bonds (``None`` without rings): canonical SMILES
    of it name the systems by themselves, not ranked with the atoms around them."""
    bonds = sorted({bond for ring in mol.GetRingInfo().BondRings() for bond in ring})
    if not bonds:
        return None
    skeleton = Chem.PathToSubmol(mol, bonds)
    for atom in skeleton.GetAtoms():
        atom.SetNumExplicitHs(0)
        atom.SetNoImplicit(False)
    skeleton.UpdatePropertyCache(strict=False)
    return skeleton


def ring_system_kinds(mol: Chem.Mol) -> list[str]:
    """Each ring system of ``mol`` as the SMILES of its ring atoms and the bonds between them,
    canonical for the system alone: substituents, hydrogens, isotopes and stereo left out, so
    that benzene is ``c1ccccc1`` whatever it carries, and indole and N-methylindole are one
    kind ``c1ccc2nccc2c1`` (a key, not a molecule RDKit would sanitize). A carbonyl on a ring
    is left out with the other substituents: a lactam is its saturated ring. About 0.1 ms a
    drug-like molecule."""
    skeleton = _ring_skeleton(mol)
    return [] if skeleton is None else Chem.MolToSmiles(skeleton, isomericSmiles=False).split(".")


def ring_systems_by_kind(mol: Chem.Mol) -> list[tuple[str, int]]:
    """Each ring system of ``mol``: its kind (:func:`ring_system_kinds`) and its SSSR rings
    (the cycles of its ring bonds: bonds - atoms + 1)."""
    skeleton = _ring_skeleton(mol)
    if skeleton is None:
        return []
    return [
        (Chem.MolToSmiles(system, isomericSmiles=False), system.GetNumBonds() - system.GetNumAtoms() + 1)
        for system in Chem.GetMolFrags(skeleton, asMols=True, sanitizeFrags=False)
    ]


def has_unseen_ring_system(kinds: Iterable[str], known: Collection[str]) -> bool:
    """Whether one molecule's ring systems (its :func:`ring_system_kinds`) include one that
    is not in ``known`` (the kinds of a training set's ring systems)."""
    return any(kind not in known for kind in kinds)


def unseen_ring_system_share(kinds: Sequence[Iterable[str]], known: Collection[str]) -> float:
    """The share of molecules, given by their :func:`ring_system_kinds`, with a ring system
    that is not in ``known``; ``nan`` for none. Acyclic molecules count as seen."""
    if not kinds:
        return math.nan
    return sum(has_unseen_ring_system(k, known) for k in kinds) / len(kinds)


def fused_ring_systems(mol: Chem.Mol) -> int:
    """The ring systems of ``mol`` with two rings or more (:func:`ring_systems`)."""
    return sum(rings > 1 for rings in ring_systems(mol))


def ring_size_counts(mols: Iterable[Chem.Mol]) -> dict[int, int]:
    """How many SSSR rings of each size the molecules hold together, sorted by size.

    ``[cyclopropane, benzene]`` gives ``{3: 1, 6: 1}``; a set without rings gives ``{}``.
    """
    counts: Counter[int] = Counter()
    for mol in mols:
        counts.update(ring_sizes(mol))
    return dict(sorted(counts.items()))


def unusual_ring_share(mols: Sequence[Chem.Mol], allowed: Collection[int] = USUAL_RING_SIZES) -> float:
    """The share of molecules with at least one SSSR ring whose size is not in ``allowed``
    (default 5, 6 and 7 atoms: a ring smaller than 5 or larger than 7 counts), ``nan`` for
    no molecule. Acyclic molecules count as usual."""
    if not mols:
        return math.nan
    allowed = set(allowed)
    return sum(any(size not in allowed for size in ring_sizes(m)) for m in mols) / len(mols)


def _distributions(a: dict[int, int], b: dict[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    if not a or not b:
        return None
    sizes = np.arange(min(min(a), min(b)), max(max(a), max(b)) + 1)
    p = np.array([a.get(int(k), 0) for k in sizes], dtype=np.float64)
    q = np.array([b.get(int(k), 0) for k in sizes], dtype=np.float64)
    return p / p.sum(), q / q.sum()


def ring_size_distance(counts: dict[int, int], reference: dict[int, int]) -> dict[str, float]:
    """``{"tv": TV, "w1": W1}`` between two ring-size histograms (see the module docstring),
    each ``nan`` when either set has no ring."""
    pair = _distributions(counts, reference)
    if pair is None:
        return {"tv": math.nan, "w1": math.nan}
    p, q = pair
    return {"tv": float(0.5 * np.abs(p - q).sum()), "w1": float(np.abs(np.cumsum(p) - np.cumsum(q)).sum())}


def acyclic_double_share(mols: Sequence[Chem.Mol]) -> float:
    """The share of ``mols`` with a C=C, C=N or N=N double bond outside any ring (an
    exocyclic one included); ``nan`` for none."""
    return _share_matching(mols, ACYCLIC_DOUBLE)


def ring_double_share(mols: Sequence[Chem.Mol]) -> float:
    """The share of ``mols`` with a C=C, C=N or N=N double bond in a ring that is not
    aromatic (a partly unsaturated ring: a dihydropyridine, a pyrazoline, a cyclohexene);
    ``nan`` for none."""
    return _share_matching(mols, RING_DOUBLE)


def _share_matching(mols: Sequence[Chem.Mol], pattern: Chem.Mol) -> float:
    if not mols:
        return math.nan
    return sum(m.HasSubstructMatch(pattern) for m in mols) / len(mols)
