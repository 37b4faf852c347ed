"""Parsing with reasons, canonical SMILES, properties and the vocabulary checks."""

from __future__ import annotations

import pytest

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import (
    PROPERTY_NAMES,
    canonical_smiles,
    parse_smiles,
    properties,
    try_canonical_smiles,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def test_parse_gives_a_sanitized_molecule() -> None:
    mol = parse_smiles("  " + ASPIRIN + " ")
    assert mol.GetNumHeavyAtoms() == 13
    assert any(atom.GetIsAromatic() for atom in mol.GetAtoms())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty SMILES"),
        ("   ", "empty SMILES"),
        ("CXC", "SMILES syntax error near position 2"),
        ("C1CC", "unclosed ring"),
        ("C(C", "extra open parentheses"),
        ("C(C)(C)(C)(C)C", "explicit valence for atom # 0 C, 5, is greater than permitted"),
        ("c1cccc1", "can't kekulize"),
    ],
)
def test_parse_errors_say_why(text: str, expected: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse_smiles(text)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_canonical_smiles_is_the_same_for_every_spelling() -> None:
    assert canonical_smiles("OCC") == canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles(parse_smiles("c1ccccc1O")) == "Oc1ccccc1"
    assert try_canonical_smiles("C1CC") is None
    assert try_canonical_smiles(None) is None
    assert try_canonical_smiles("C(O)C") == "CCO"


def test_properties_of_aspirin() -> None:
    props = properties(parse_smiles(ASPIRIN))
    assert tuple(props) == PROPERTY_NAMES
    assert props["heavy_atoms"] == 13
    assert props["MW"] == pytest.approx(180.159, abs=1e-3)
    assert props["logP"] == pytest.approx(1.3101, abs=1e-4)
    assert 0.5 < props["QED"] < 0.6
    assert 1.0 < props["SA"] < 2.5
