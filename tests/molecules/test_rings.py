"""Ring-size counts, the unusual-ring share and ring-size distances on hand-made molecules."""

from __future__ import annotations

import math

import pytest
from rdkit import Chem
from scipy.stats import wasserstein_distance

from flowstudio.molecules.rings import (
    fused_ring_systems,
    ring_size_counts,
    ring_size_distance,
    ring_system_kinds,
    ring_systems,
    ring_systems_by_kind,
    unseen_ring_system_share,
    unusual_ring_share,
)


def mols(*smiles: str) -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in smiles]


def test_counts_rings_by_size_over_the_sssr() -> None:
    assert ring_size_counts(mols("C1CC1", "c1ccccc1")) == {3: 1, 6: 1}
    # naphthalene is two six-membered rings, not also its ten-membered perimeter
    assert ring_size_counts(mols("c1ccc2ccccc2c1")) == {6: 2}
    assert ring_size_counts(mols("C1CCCCCCC1", "C1CCC1C1CCCC1", "CCO")) == {4: 1, 5: 1, 8: 1}
    assert ring_size_counts(mols("CCO")) == {}


def test_rings_sharing_an_atom_form_one_system() -> None:
    fused, spiro, bridged = "c1ccc2[nH]ccc2c1", "C1CCC2(CC1)CCCC2", "C1CC2CCC1C2"
    assert [ring_systems(m) for m in mols(fused, spiro, bridged)] == [[2], [2], [2]]
    assert [fused_ring_systems(m) for m in mols(fused, spiro, bridged)] == [1, 1, 1]
    # biphenyl's rings are joined by a bond and share no atom: two systems, neither fused
    assert ring_systems(mols("c1ccc(cc1)-c1ccccc1")[0]) == [1, 1]
    assert ring_systems(mols("CCO")[0]) == []
    # a ring between two others joins them into one system, whichever ring comes last
    # (the SSSR lists hexahydro-s-indacene's two five-membered rings before its benzene)
    assert ring_systems(mols("c1ccc2cc3ccccc3cc2c1")[0]) == [3]
    assert ring_systems(mols("C1Cc2cc3c(cc2C1)CCC3")[0]) == [3]
    assert fused_ring_systems(mols("c1ccc2ccccc2c1CCc1ccc2[nH]ccc2c1")[0]) == 2


def test_a_ring_system_is_named_by_its_ring_atoms_and_bonds_alone() -> None:
    # substituents, their position, a carbonyl on the ring, hydrogens and stereo do not change the kind
    same = [
        ("Cc1ccccc1", "Oc1ccccc1", "c1ccccc1"),
        ("C1CCNC1", "O=C1CCCN1", "CN1CCCC1", "OC1CCNC1"),  # an amine, a lactam, N- and C-substituted
        ("c1ccc2[nH]ccc2c1", "Cc1c[nH]c2ccccc12", "Cn1ccc2ccccc21", "Clc1ccc2[nH]ccc2c1"),
        ("c1ccc2c(c1)CCN2", "O=C1Cc2ccccc2N1"),  # indoline and oxindole
        ("N[C@@H]1CC[C@H](O)CC1", "C1CCCCC1"),
    ]
    kinds = [{tuple(ring_system_kinds(m)) for m in mols(*group)} for group in same]
    assert all(len(group) == 1 for group in kinds), kinds
    assert len({group.pop() for group in kinds}) == len(same)  # five distinct kinds
    assert ring_system_kinds(mols("c1ccccc1")[0]) == ["c1ccccc1"]
    # an aza-analogue, a ring of another size, a bridge or a spiro junction is another kind
    others = mols("c1ccc2[nH]ccc2c1", "c1cnc2[nH]ccc2c1", "C1CCNCC1", "C1CC2CCC1C2", "C1CCC2(CC1)CCCC2")
    assert len({tuple(ring_system_kinds(m)) for m in others}) == 5
    # a molecule names each system once, with its rings; biphenyl has two benzenes
    assert sorted(ring_systems_by_kind(mols("O=C(Nc1ccccc1)c1ccc2ccccc2c1")[0])) == [
        ("c1ccc2ccccc2c1", 2), ("c1ccccc1", 1)
    ]
    assert ring_system_kinds(mols("c1ccc(cc1)-c1ccccc1")[0]) == ["c1ccccc1", "c1ccccc1"]
    assert ring_system_kinds(mols("CCO")[0]) == []


def test_unseen_share_counts_molecules_with_a_ring_system_not_in_the_known_kinds() -> None:
    known = {kind for m in mols("c1ccccc1C", "C1CCNCC1") for kind in ring_system_kinds(m)}
    kinds = [ring_system_kinds(m) for m in mols("Oc1ccccc1", "c1ccccc1N1CCCCC1", "c1ccc2ccccc2c1", "CCO")]
    # naphthalene is new though benzene is known; an acyclic molecule has nothing new
    assert unseen_ring_system_share(kinds, known) == 1 / 4
    assert unseen_ring_system_share(kinds, set()) == 3 / 4
    assert math.isnan(unseen_ring_system_share([], known))


def test_unusual_share_counts_molecules_with_a_ring_below_5_or_above_7() -> None:
    assert unusual_ring_share(mols("C1CC1", "c1ccccc1")) == 0.5
    assert unusual_ring_share(mols("C1CCCCCCC1", "C1CCCCCC1", "C1CCCC1", "CCO")) == 0.25
    # one odd ring is enough, however many usual rings the molecule has
    assert unusual_ring_share(mols("c1ccc(C2CC2)cc1")) == 1.0
    assert unusual_ring_share(mols("C1CC1"), allowed=(3, 5, 6, 7)) == 0.0
    assert math.isnan(unusual_ring_share([]))


def test_distance_is_zero_for_the_same_distribution_and_total_for_disjoint_ones() -> None:
    a = ring_size_counts(mols("c1ccccc1", "C1CCCC1"))
    doubled = ring_size_counts(mols("c1ccccc1", "C1CCCC1") * 2)
    assert ring_size_distance(a, doubled) == {"tv": 0.0, "w1": 0.0}
    far = ring_size_distance({6: 3}, {3: 1})
    assert far["tv"] == 1.0 and far["w1"] == 3.0
    assert all(math.isnan(v) for v in ring_size_distance({}, {6: 1}).values())


def test_distance_matches_the_definitions() -> None:
    counts, reference = {3: 1, 6: 3}, {5: 2, 6: 1, 9: 1}
    d = ring_size_distance(counts, reference)
    # p = {3: .25, 6: .75}, q = {5: .5, 6: .25, 9: .25}: |.25| + |.5| + |.5| + |.25| over 2
    assert d["tv"] == pytest.approx(0.75)
    sizes_a, weights_a = zip(*counts.items(), strict=True)
    sizes_b, weights_b = zip(*reference.items(), strict=True)
    assert d["w1"] == pytest.approx(wasserstein_distance(sizes_a, sizes_b, weights_a, weights_b))
