"""Parsing with reasons, canonical SMILES, properties and the vocabulary checks."""

from __future__ import annotations

import pytest

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import (
    PROPERTY_NAMES,
    Vocabulary,
    canonical_smiles,
    format_charge,
    parse_smiles,
    properties,
    try_canonical_smiles,
    validate_for_vocabulary,
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


def test_vocabulary_reasons() -> None:
    atoms = ("C", "N", "O", "F", "S", "Cl", "Br")
    assert validate_for_vocabulary(parse_smiles(ASPIRIN), atoms, 38) is None
    assert validate_for_vocabulary(parse_smiles("C[Se]C"), atoms, 38) == "atom outside the vocabulary (Se)"
    big = parse_smiles("C" * 41)
    assert validate_for_vocabulary(big, atoms, 38) == "more atoms than the model's maximum (41 > 38)"
    charged = parse_smiles("C[N+](C)(C)C")
    assert validate_for_vocabulary(charged, atoms, 38) == "formal charge the vocabulary cannot express (N+)"
    assert validate_for_vocabulary(charged, atoms, 38, allowed_charges={0, ("N", 1)}) is None
    assert validate_for_vocabulary(parse_smiles("CC(=O)[O-]"), atoms, 38, allowed_charges={0, 1}) == (
        "formal charge the vocabulary cannot express (O-)"
    )


def test_charge_labels_and_vocabulary_defaults() -> None:
    assert format_charge("N", 1) == "N+"
    assert format_charge("O", -1) == "O-"
    assert format_charge("Fe", 2) == "Fe+2"
    assert Vocabulary(("C",)).allowed_charges == frozenset({0})
