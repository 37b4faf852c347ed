"""Molecules as kekulized graphs: atom vocabulary, graph tensors and BFS orderings.

GraphAF (Shi et al. 2020, §3) generates a molecule atom by atom in a breadth-first order;
each new atom ``i`` decides its bonds to the ``W`` atoms before it (the *edge unroll
window*). Everything here is plain numpy + RDKit; the model lives in
:mod:`flowstudio.molecules.graphaf`.

- Atoms are ``(element, formal charge)`` pairs taken from the data (MOSES gives
  C N O F S Cl Br, all neutral); hydrogens stay implicit. With *ring types*
  (:attr:`AtomVocabulary.on_ring`) each pair found both on and off rings is two types, so
  that the atom step says whether the atom will sit on a ring (see ``ring_types`` in
  :mod:`flowstudio.molecules.settings`); with *aromatic types* a third type says that the
  ring is aromatic (``aromatic_types``).
- Bonds are kekulized: classes ``1, 2, 3`` = single, double, triple; ``0`` = no bond.
- ``max_atoms`` and the window ``W`` are derived from the data: ``W`` is the largest bond
  span ``i - j`` that a random BFS ordering of a training molecule needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from flowstudio.errors import BadInputError

BOND_TYPES = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE)
NUM_EDGE_CLASSES = 1 + len(BOND_TYPES)  # class 0 = no bond
_BOND_CLASS = {t: k + 1 for k, t in enumerate(BOND_TYPES)}
_ELEMENT_ORDER = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "B", "Si", "Se")
_ORDERING_TRIES = 16


@dataclass(frozen=True)
class MolGraph:
    """A kekulized molecule: ``atoms`` (N,) vocabulary indices and ``bonds`` (E, 3) rows
    ``(a, b, class)`` in RDKit atom order, ``class`` in 1..3."""

    atoms: np.ndarray
    bonds: np.ndarray

    @property
    def num_atoms(self) -> int:
        return len(self.atoms)


@dataclass(frozen=True)
class OrderedGraph:
    """A :class:`MolGraph` renumbered by a generation ordering.

    ``atoms[i]`` is the type of the i-th generated atom; ``bonds`` rows ``(i, j, class)``
    have ``j < i`` and are sorted by ``(i, j)``, the order in which GraphAF decides them.
    """

    atoms: np.ndarray
    bonds: np.ndarray


@dataclass(frozen=True)
class AtomVocabulary:
    """The atom types, the size limit and the edge window of one training set.

    ``on_ring`` (empty: types without ring membership) gives each type's ring state
    (:data:`OFF_RING`, :data:`ON_RING`, with ``aromatic`` also :data:`AROMATIC`); ``atoms``
    then holds a pair once for each state the data has it in.
    """

    atoms: tuple[tuple[str, int], ...]
    max_atoms: int
    edge_window: int
    on_ring: tuple[int, ...] = ()
    aromatic: bool = False

    def __post_init__(self) -> None:
        if not self.atoms:
            raise BadInputError("the atom vocabulary is empty")
        if self.max_atoms < 1 or self.edge_window < 1:
            raise BadInputError("max_atoms and edge_window must be positive")
        if self.on_ring and len(self.on_ring) != len(self.atoms):
            raise BadInputError("the atom vocabulary's ring flags do not match its atom types")
        if self.aromatic and not self.on_ring:
            raise BadInputError("the atom vocabulary has aromatic types but no ring types")
        if not self.aromatic and AROMATIC in self.on_ring:
            raise BadInputError("the atom vocabulary has an aromatic ring flag but no aromatic types")
        if len(set(self.keys())) != len(self.atoms):
            raise BadInputError("the atom vocabulary repeats an atom type")

    @property
    def ring_types(self) -> bool:
        """Whether the atom types say if the atom sits on a ring."""
        return bool(self.on_ring)

    def keys(self) -> list[tuple[str, int] | tuple[str, int, int]]:
        """Each type's lookup key: ``(element, charge)``, with ring types ``+ (ring state,)``."""
        if not self.on_ring:
            return list(self.atoms)
        return [(*atom, ring) for atom, ring in zip(self.atoms, self.on_ring, strict=True)]

    @cached_property
    def type_index(self) -> Mapping[tuple, int]:
        """Each lookup key's type (:meth:`keys` -> index), built once per vocabulary: every
        molecule of a data set is mapped onto it (:func:`graph_from_raw`)."""
        return {key: k for k, key in enumerate(self.keys())}  # a dict: the vocabulary is pickled

    def labels(self) -> list[str]:
        """Readable type names: ``C``, ``N+``, ``C (ring)``, ``C (aromatic)``."""
        signs = {0: "", 1: "+", -1: "-"}
        names = [f"{s}{signs.get(c, f'{c:+d}')}" for s, c in self.atoms]
        if not self.on_ring:
            return names
        return [n + _STATE_WORDS[state][0] for n, state in zip(names, self.on_ring, strict=True)]

    @property
    def size(self) -> int:
        return len(self.atoms)

    def max_valences(self) -> np.ndarray:
        """The largest total bond order RDKit accepts for each atom type.

        A charged atom is given the valences of its isoelectronic neutral element
        (N+ like C: 4, O- like F: 1), which is how RDKit treats them.
        """
        table = Chem.GetPeriodicTable()
        out = []
        for symbol, charge in self.atoms:
            number = table.GetAtomicNumber(symbol) - charge
            valences = [v for v in table.GetValenceList(max(1, number)) if v >= 0]
            out.append(max(valences) if valences else 4)
        return np.asarray(out, dtype=np.int64)

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "atoms": [[s, c] for s, c in self.atoms],
            "max_atoms": self.max_atoms,
            "edge_window": self.edge_window,
        }
        if self.on_ring:
            config["on_ring"] = list(self.on_ring)
        if self.aromatic:
            config["aromatic"] = True
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AtomVocabulary:
        try:
            atoms = tuple((str(s), int(c)) for s, c in config["atoms"])
            on_ring = tuple(_state(r) for r in config.get("on_ring", ()))  # runs from before: none
            aromatic = config.get("aromatic", False)  # runs from before aromatic types: none
            if not isinstance(aromatic, bool):
                raise ValueError(f"aromatic {aromatic!r} is not true or false")
            return cls(atoms, int(config["max_atoms"]), int(config["edge_window"]), on_ring, aromatic)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"invalid atom vocabulary in the configuration: {exc}") from None


OFF_RING, ON_RING, AROMATIC = 0, 1, 2
"""An atom's ring state: on no ring; on a ring (any ring, without aromatic types); aromatic."""
_STATE_WORDS = {OFF_RING: ("", " off rings"), ON_RING: (" (ring)", " on a ring"),  # label suffix, error words
                AROMATIC: (" (aromatic)", " on an aromatic ring")}


def typed_states(states: np.ndarray, aromatic: bool) -> np.ndarray:
    """The ring states (:func:`ring_states`) that types tell apart: without ``aromatic``
    types an aromatic atom is :data:`ON_RING`."""
    return states if aromatic else np.minimum(states, ON_RING)


def _state(value: Any) -> int:
    """A ring state from a configuration: 0, 1, 2, or true/false (runs from before aromatic
    types wrote their flags as booleans)."""
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int) or value not in _STATE_WORDS:
        raise ValueError(f"ring flag {value!r} is not 0, 1, 2, true or false")
    return value


RawGraph = tuple[list[tuple[str, int]], np.ndarray, np.ndarray]
"""A molecule read once: its ``(element, charge)`` atom keys, its bonds (E, 3) and its
atoms' ring states (N,) (:func:`ring_states`)."""


def ring_states(mol: Chem.Mol) -> np.ndarray:
    """(N,) int8: each atom's ring state as RDKit perceives it; the one definition, for the
    training molecules (:func:`raw_graph`, before kekulization) and the generated ones whose
    types are checked against their rings (sanitized: the same aromaticity model)."""
    states = ((AROMATIC if a.GetIsAromatic() else int(a.IsInRing())) for a in mol.GetAtoms())
    return np.fromiter(states, np.int8, mol.GetNumAtoms())


def raw_graph(mol: Chem.Mol) -> RawGraph:
    """Read ``mol`` once: a copy without explicit hydrogens, its ring states, then kekulized
    (bonds 1, 2, 3 only, no aromatic flags); raises :class:`BadInputError` for what GraphAF
    cannot generate: no atom, several fragments, radicals, bonds other than 1, 2, 3."""
    mol = Chem.RemoveHs(mol) if mol.GetNumAtoms() != mol.GetNumHeavyAtoms() else Chem.Mol(mol)
    states = ring_states(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    if mol.GetNumAtoms() == 0:
        raise BadInputError("empty molecule")
    if len(Chem.GetMolFrags(mol)) > 1:
        raise BadInputError("disconnected molecule (several fragments)")
    atoms = list(mol.GetAtoms())  # in index order
    if any(a.GetNumRadicalElectrons() for a in atoms):
        raise BadInputError("radical atoms")
    keys = [(a.GetSymbol(), a.GetFormalCharge()) for a in atoms]
    # Bond orders from one C++ call; after kekulization only 1, 2 and 3 remain.
    orders = Chem.GetAdjacencyMatrix(mol, useBO=True)
    a, b = np.nonzero(np.triu(orders))
    klass = orders[a, b]
    if not np.isin(klass, (1.0, 2.0, 3.0)).all():
        raise BadInputError("unsupported bond type (only single, double and triple)")
    bonds = np.stack([a, b, klass.astype(np.int64)], axis=1).astype(np.int64).reshape(-1, 3)
    return keys, bonds, states


def graph_from_raw(raw: RawGraph, vocab: AtomVocabulary | None) -> MolGraph:
    """Map a :func:`raw_graph` onto ``vocab`` (atom types -1 without one)."""
    keys, bonds, states = raw
    if vocab is None:
        return MolGraph(np.full(len(keys), -1, np.int64), bonds)
    lookup = vocab.type_index
    atoms = []
    for key, state in zip(keys, typed_states(states, vocab.aromatic).tolist(), strict=True):
        index = lookup.get((*key, state) if vocab.ring_types else key)
        if index is None:
            where = _STATE_WORDS[state][1] if vocab.ring_types else ""
            raise BadInputError(f"atom {key[0]}{key[1]:+d}{where} is not in the vocabulary")
        atoms.append(index)
    return MolGraph(np.asarray(atoms, np.int64), bonds)


def mol_to_graph(mol: Chem.Mol, vocab: AtomVocabulary | None = None) -> MolGraph:
    """Graph tensors of ``mol``; raises :class:`BadInputError` when an atom or a bond is
    outside ``vocab`` (or the molecule is disconnected, which GraphAF cannot generate)."""
    return graph_from_raw(raw_graph(mol), vocab)


def graph_to_mol(
    atoms: Iterable[int], bonds: Iterable[tuple[int, int, int]], vocab: AtomVocabulary
) -> Chem.Mol | None:
    """Build and sanitize a molecule from graph tensors; ``None`` when RDKit refuses it."""
    rw = Chem.RWMol()
    for a in atoms:
        symbol, charge = vocab.atoms[int(a)]
        atom = Chem.Atom(symbol)
        atom.SetFormalCharge(charge)
        rw.AddAtom(atom)
    for i, j, klass in bonds:
        rw.AddBond(int(i), int(j), BOND_TYPES[int(klass) - 1])
    mol = rw.GetMol()
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(mol)
    except (Chem.rdchem.MolSanitizeException, ValueError, RuntimeError):
        return None
    return mol


def _neighbours(graph: MolGraph) -> list[list[int]]:
    nbrs: list[list[int]] = [[] for _ in range(graph.num_atoms)]
    for a, b in graph.bonds[:, :2].tolist():
        nbrs[a].append(b)
        nbrs[b].append(a)
    return nbrs


Random = np.random.Generator | np.random.RandomState | Any
"""A numpy generator, or the ``np.random`` module (whose global state checkpoints keep)."""


def _random_index(rng: Random, n: int) -> int:
    return int(rng.integers(n)) if hasattr(rng, "integers") else int(rng.randint(n))


def bfs_order(graph: MolGraph, rng: Random | None, start: int | None = None) -> np.ndarray:
    """A breadth-first ordering of the atoms: ``order[k]`` is the atom generated k-th.

    With ``rng`` the start atom (unless given) and the order in which each atom's
    neighbours are visited are random (the paper's randomized BFS); without it the
    ordering is deterministic (start 0, neighbours by index).
    """
    n = graph.num_atoms
    nbrs = _neighbours(graph)
    if start is None:
        start = _random_index(rng, n) if rng is not None else 0
    if rng is not None:  # visit neighbours by random keys: one draw per molecule, not per atom
        keys = rng.random_sample(n) if hasattr(rng, "random_sample") else rng.random(n)
        nbrs = [sorted(vs, key=keys.__getitem__) for vs in nbrs]
    seen = [False] * n
    seen[start] = True
    order = [start]
    head = 0
    while head < len(order):
        current = nbrs[order[head]]
        head += 1
        for v in current:
            if not seen[v]:
                seen[v] = True
                order.append(v)
    return np.asarray(order, np.int64)


def apply_order(graph: MolGraph, order: np.ndarray) -> OrderedGraph:
    """Renumber ``graph`` so that atom ``order[k]`` becomes atom ``k``."""
    position = np.empty(graph.num_atoms, np.int64)
    position[order] = np.arange(graph.num_atoms)
    a = position[graph.bonds[:, 0]]
    b = position[graph.bonds[:, 1]]
    i, j = np.maximum(a, b), np.minimum(a, b)
    rows = np.stack([i, j, graph.bonds[:, 2]], axis=1)
    rows = rows[np.lexsort((j, i))]
    return OrderedGraph(graph.atoms[order], rows)


def bond_span(graph: MolGraph, order: np.ndarray) -> int:
    """The largest ``i - j`` over the bonds under ``order`` (0 for a single atom)."""
    if len(graph.bonds) == 0:
        return 0
    position = np.empty(graph.num_atoms, np.int64)
    position[order] = np.arange(graph.num_atoms)
    return int(np.abs(position[graph.bonds[:, 0]] - position[graph.bonds[:, 1]]).max())


def fitting_order(
    graph: MolGraph, window: int, rng: Random | None, tries: int = _ORDERING_TRIES
) -> np.ndarray | None:
    """A BFS ordering whose bonds all lie within ``window``: random BFS first (``tries``
    attempts), then every deterministic start atom; ``None`` when none fits."""
    if rng is not None:
        for _ in range(tries):
            order = bfs_order(graph, rng)
            if bond_span(graph, order) <= window:
                return order
    for start in range(graph.num_atoms):
        order = bfs_order(graph, None, start=start)
        if bond_span(graph, order) <= window:
            return order
    return None


def build_vocabulary(
    mols: Iterable[Chem.Mol], seed: int = 0, ring_types: bool = False, aromatic: bool = False
) -> AtomVocabulary:
    """Derive the atom types, ``max_atoms`` and the edge window from training molecules
    (see :func:`vocabulary_from_raw`)."""
    return vocabulary_from_raw((raw_graph(m) for m in mols), seed, ring_types, aromatic)


def vocabulary_from_raw(
    raws: Iterable[RawGraph], seed: int = 0, ring_types: bool = False, aromatic: bool = False
) -> AtomVocabulary:
    """Derive the atom types, ``max_atoms`` and the edge window from training molecules.

    Atom types are the ``(element, charge)`` pairs present, in a fixed element order
    (neutral first); with ``ring_types`` each pair is split by its atoms' ring states as the
    data has them (off rings first; aromatic rings apart with ``aromatic``). The window is the
    largest bond span over one random BFS ordering per molecule, so that a random ordering
    of a typical molecule fits without retries.
    """
    if aromatic and not ring_types:
        raise BadInputError("aromatic atom types need ring types (ring_types)")
    rng = np.random.default_rng(seed)
    counts: Counter[tuple] = Counter()
    max_atoms = 0
    window = 1
    seen_any = False
    for keys, bonds, states in raws:
        graph = MolGraph(np.zeros(len(keys), np.int64), bonds)
        counts.update(zip(keys, typed_states(states, aromatic).tolist(), strict=True) if ring_types else keys)
        max_atoms = max(max_atoms, graph.num_atoms)
        window = max(window, bond_span(graph, bfs_order(graph, rng)))
        seen_any = True
    if not seen_any:
        raise BadInputError("no molecule to build an atom vocabulary from")

    def rank(key: tuple[str, int]) -> tuple[bool, int, str, int, int]:
        symbol, charge = key
        known = _ELEMENT_ORDER.index(symbol) if symbol in _ELEMENT_ORDER else len(_ELEMENT_ORDER)
        return (charge != 0, known, symbol, abs(charge), charge)

    window = min(window, max(1, max_atoms - 1))
    if not ring_types:
        return AtomVocabulary(tuple(sorted(counts, key=rank)), max_atoms, window)
    types = sorted(counts, key=lambda t: (*rank(t[0]), t[1]))
    return AtomVocabulary(tuple(a for a, _ in types), max_atoms, window, tuple(r for _, r in types), aromatic)
