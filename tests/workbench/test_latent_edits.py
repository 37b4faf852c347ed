"""The window's latent arithmetic, Qt-free: groups written as numbers, ranges or names."""

from __future__ import annotations

import numpy as np
import pytest

from flowstudio.errors import BadInputError
from flowstudio.workbench.latent_edits import select_group

NAMES = ["chair_01", "chair_02", "Table_01", "table_02", "lamp"]


def test_groups_by_number_range_and_name() -> None:
    assert select_group("0-1, 4", NAMES, "From").tolist() == [0, 1, 4]
    assert select_group("table", NAMES, "To").tolist() == [2, 3]  # case-blind
    assert select_group("3, table, 3-3", NAMES, "To").tolist() == [2, 3]  # once each, in order
    assert select_group(" 2 ", NAMES, "To").dtype == np.int64


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "From: give shape numbers"), ("3-9", "'3-9' is outside shapes 0-4"), ("2-1", "outside"),
     ("sofa", "no shape name contains 'sofa'"), (" , ", "give shape numbers")],
)
def test_bad_groups_name_the_field(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        select_group(text, NAMES, "From")
