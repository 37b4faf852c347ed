"""The MOSES ``Filters`` metric: the share of molecules a medicinal chemist would not throw
out at first sight for a reactive, unstable or assay-interfering group.

MOSES (Polykovskiy et al. 2020) built its data set by removing from ZINC every molecule
that failed these rules, so real MOSES molecules pass all of them by construction, and a
generator that learned the data should too. :func:`filter_failure` checks, in order:

1. **atoms**: only C, N, S, O, F, Cl, Br and H (as MOSES);
2. **charge**: no atom with a formal charge (as MOSES; nitro groups written with charges
   fail, as there);
3. **large rings**: no ring of 8 or more atoms in the SSSR (MOSES: ``len(ring) >= 8`` over
   RDKit's ring info);
4. **MCF**: none of :data:`MCF_RULES`, medicinal-chemistry filters for reactive or
   unstable groups;
5. **PAINS**: no match in RDKit's ``FilterCatalog`` PAINS A, B and C catalogs, the 480 pan-
   assay interference patterns of Baell & Holloway 2010 (J. Med. Chem. 53, 2719), the same
   patterns MOSES reads from its ``wehi_pains.csv``.

How this differs from MOSES's ``mol_passes_filters``:

- :data:`MCF_RULES` are written here, one SMARTS per chemical group, following the 22
  groups of MOSES's ``mcf.csv`` (Michael acceptors, primary alkyl halides, epoxides and
  aziridines, isocyanates, aldehydes, N-H imines, acyclic N-N and N=N chains, halogens on
  an aromatic carbon next to a ring heteroatom, S-S bonds, aminals, acetals, many
  halogens). They match the hydrogen-suppressed molecule with H-count primitives where
  MOSES matches explicit ``[H]`` atoms after ``AddHs``. Both flag the same molecules
  among the 20,000 shipped MOSES molecules, 1,000 GraphAF samples full of odd groups and
  the examples of the tests (the halogen counts are counted here, not matched).
- Three of MOSES's patterns (a 2-substituted 2H-pyran, its thio analogue and an aniline)
  are written with Kekulé single and double bonds; RDKit perceives those rings as aromatic,
  whose bonds match neither ``-`` nor ``=``, so the patterns only catch non-aromatic rings.
  They are left out here.
- PAINS comes from RDKit's catalog (its SMARTS were rewritten by RDKit to match without
  explicit hydrogens), not from MOSES's copy of the WEHI file; the two can differ on a few
  molecules.

``Filters`` is the share of *valid* molecules that pass; MOSES reports it for generated
molecules only, :func:`~flowstudio.molecules.metrics.evaluate` also for the reference set,
so that a model is judged against the rate of real molecules (about 1 on MOSES data).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import cache

from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from flowstudio.molecules.rings import ring_sizes

#: Elements MOSES allows (hydrogen included).
ALLOWED_ELEMENTS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})

#: Rings of this many atoms or more fail (MOSES).
MAX_RING_SIZE = 8

#: Medicinal-chemistry filters: reactive or unstable groups, as (name, SMARTS) pairs.
#: ``!@`` is a bond outside any ring; ``!H0`` an atom with at least one hydrogen.
MCF_RULES: tuple[tuple[str, str], ...] = (
    ("Michael acceptor: C=C conjugated to a nitrile", "[#6]=!@[#6]-[#6]#[#7]"),
    ("Michael acceptor: C=C conjugated to a sulfone", "[#6]=!@[#6]-[#16](=[#8])=[#8]"),
    ("Michael acceptor: acrylamide", "[#6]=!@[#6;!H0]-!@[#6](=[#8])-!@[#7]"),
    ("primary alkyl halide", "[CX4;H2]([#6])[F,Cl,Br,I]"),
    ("epoxide", "[#6]1-[#8]-[#6]-1"),
    ("aziridine", "[#6]1-[#7]-[#6]-1"),
    ("isocyanate", "[#6]-[#7]=[#6]=[#8]"),
    ("aldehyde or formyl group", "[#6;!H0]=[#8]"),
    ("acyclic imine with an N-H", "[#6](=!@[#7;!H0])-!@[#6,#7,#8,#16]"),
    ("acyclic C-N-N-C chain (hydrazine, hydrazone, azo)", "[#6]~!@[#7]~!@[#7]~!@[#6]"),
    ("acyclic N=N", "[#7]=!@[#7]"),
    ("halogen on an aromatic carbon next to a ring heteroatom", "[Cl,Br,I]-c(:a):[a;!#6]"),
    ("sulfur-sulfur bond", "[#16]~[#16]"),
    ("acyclic N-N-N chain (triazene, azide)", "[#7]~!@[#7]~!@[#7]"),
    ("acyclic aminal N-CH2-N", "[#7]-!@[#6;H2]-!@[#7]"),
    ("acyclic acetal or hemiacetal on a C-H", "[#6;!H0](-!@[#8])-!@[#8]"),
)

#: Too many halogens of one kind: at least this many atoms fail (MOSES).
MAX_HALOGENS = {"Br": 3, "Cl": 4, "F": 7}


@cache
def _mcf_patterns() -> tuple[tuple[str, Chem.Mol], ...]:
    patterns = []
    for name, smarts in MCF_RULES:
        pattern = Chem.MolFromSmarts(smarts)
        if pattern is None:  # pragma: no cover - a typo in MCF_RULES; the tests parse them all
            raise ValueError(f"MCF rule {name!r}: SMARTS {smarts!r} does not parse")
        patterns.append((name, pattern))
    return tuple(patterns)


@cache
def _pains_catalog() -> FilterCatalog:
    params = FilterCatalogParams()
    for catalog in ("PAINS_A", "PAINS_B", "PAINS_C"):
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, catalog))
    return FilterCatalog(params)


def filter_failure(mol: Chem.Mol) -> str | None:
    """The first rule ``mol`` fails, as a short reason (``"PAINS: catechol_A(92)"``), or
    ``None`` when it passes every filter (see the module docstring for the rules)."""
    counts: dict[str, int] = {}
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol()
        if symbol not in ALLOWED_ELEMENTS:
            return f"element {symbol}"
        if atom.GetFormalCharge() != 0:
            return f"charged atom {symbol}{atom.GetFormalCharge():+d}"
        counts[symbol] = counts.get(symbol, 0) + 1
    large = [size for size in ring_sizes(mol) if size >= MAX_RING_SIZE]
    if large:
        return f"{max(large)}-membered ring"
    for symbol, limit in MAX_HALOGENS.items():
        if counts.get(symbol, 0) >= limit:
            return f"MCF: {counts[symbol]} {symbol} atoms"
    for name, pattern in _mcf_patterns():
        if mol.HasSubstructMatch(pattern):
            return f"MCF: {name}"
    match = _pains_catalog().GetFirstMatch(mol)
    if match is not None:
        return f"PAINS: {match.GetDescription()}"
    return None


def passes_filters(mol: Chem.Mol) -> bool:
    """Whether ``mol`` passes MOSES's medicinal-chemistry and PAINS filters."""
    return filter_failure(mol) is None


def fraction_passing_filters(mols: Sequence[Chem.Mol]) -> float:
    """MOSES's ``Filters``: the share of ``mols`` (valid molecules) passing every filter,
    ``nan`` for none."""
    if not mols:
        return math.nan
    return sum(passes_filters(m) for m in mols) / len(mols)


def filter_failure_counts(mols: Sequence[Chem.Mol]) -> dict[str, int]:
    """How many of ``mols`` fail each rule (the first one each fails, as
    :func:`filter_failure` names it), most frequent first: what a ``Filters`` below 1 is made of."""
    counts = Counter(reason for reason in map(filter_failure, mols) if reason is not None)
    return dict(counts.most_common())
