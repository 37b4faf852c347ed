"""MOSES's Filters on hand-made molecules: each rule caught by a molecule built to hit it,
drug-like molecules let through."""

from __future__ import annotations

import math

import pytest
from rdkit import Chem

from flowstudio.molecules.filters import MCF_RULES, filter_failure, fraction_passing_filters, passes_filters

CLEAN = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(=O)Nc1ccc(O)cc1",
    "c1ccc(-c2ccncc2)cc1",
    "CN1CCC[C@H]1c1cccnc1",
    "C1CCCCCC1",
]

# One molecule per medicinal-chemistry rule, in the order of MCF_RULES.
MCF_EXAMPLES = [
    "N#CC(=C)c1ccccc1",  # vinyl nitrile
    "C=CS(=O)(=O)c1ccccc1",  # vinyl sulfone
    "C=CC(=O)Nc1ccccc1",  # acrylamide
    "ClCCc1ccccc1",  # primary alkyl chloride
    "c1ccccc1C1CO1",  # epoxide
    "c1ccccc1C1CN1",  # aziridine
    "O=C=Nc1ccccc1",  # isocyanate
    "O=Cc1ccccc1",  # benzaldehyde
    "N=C(C)c1ccccc1",  # N-H imine
    "CNNc1ccccc1",  # hydrazine
    "N=Nc1ccccc1",  # phenyldiazene
    "Clc1ccccn1",  # 2-chloropyridine
    "CSSc1ccccc1",  # disulfide
    "CN(C)N=Nc1ccccc1",  # triazene
    "CN(C)CN(C)c1ccccc1",  # aminal
    "COC(O)c1ccccc1",  # hemiacetal
]


@pytest.mark.parametrize(
    ("rule", "smiles"), list(zip(MCF_RULES, MCF_EXAMPLES, strict=True)), ids=[r[0] for r in MCF_RULES]
)
def test_each_medicinal_chemistry_rule_catches_its_group(rule: tuple[str, str], smiles: str) -> None:
    mol = Chem.MolFromSmiles(smiles)
    assert mol.HasSubstructMatch(Chem.MolFromSmarts(rule[1]))
    assert filter_failure(mol) is not None and filter_failure(mol).startswith("MCF: ")


def test_drug_like_molecules_pass() -> None:
    for smiles in CLEAN:
        assert filter_failure(Chem.MolFromSmiles(smiles)) is None, smiles


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("S=C1SC(=Cc2ccccc2)C(=O)N1", "PAINS: ene_rhod"),  # a benzylidene rhodanine
        ("Cc1ccc(O)c(O)c1", "PAINS: catechol"),
        ("CP(C)c1ccccc1", "element P"),
        ("Ic1ccccc1", "element I"),
        ("O=[N+]([O-])c1ccccc1", "charged atom N+1"),
        ("C1CCCCCCC1", "8-membered ring"),
        ("BrCC(Br)CBr", "MCF: 3 Br atoms"),
        ("ClC1CC(Cl)C(Cl)C1Cl", "MCF: 4 Cl atoms"),
        ("FC(F)(F)c1cc(C(F)(F)F)cc(C(F)(F)F)c1", "MCF: 9 F atoms"),
    ],
)
def test_pains_atoms_charges_large_rings_and_halogen_counts_fail(smiles: str, reason: str) -> None:
    failure = filter_failure(Chem.MolFromSmiles(smiles))
    assert failure is not None and failure.startswith(reason)


def test_one_halogen_fewer_than_the_limit_passes() -> None:
    assert passes_filters(Chem.MolFromSmiles("ClC1CC(Cl)C(Cl)C1"))
    assert passes_filters(Chem.MolFromSmiles("BrC1CC(Br)CC1"))


def test_fraction_passing_is_the_share_of_molecules() -> None:
    mols = [Chem.MolFromSmiles(s) for s in [*CLEAN[:3], "O=Cc1ccccc1"]]
    assert fraction_passing_filters(mols) == 3 / 4
    assert math.isnan(fraction_passing_filters([]))
