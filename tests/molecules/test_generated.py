"""The redraw record of a generation: counts by reason and the reasons that were on, kept
through :meth:`Generated.concatenate` and :meth:`Generated.select`, and each reason's
setting read from the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.generate import END_TOKEN
from flowstudio.molecules.generated import Generated
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.redraws import BONDLESS, CUT_AT_CAP, REDRAW_REASONS, RING_TYPES
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY


def _part(n: int, rng: np.random.Generator, on: frozenset) -> Generated:
    """``n`` stand-in molecules (only their count matters here) with random redraw counts."""
    return Generated(
        [np.zeros(1, np.int64)] * n, [np.zeros((0, 3), np.int64)] * n, [None] * n, [None] * n,
        np.zeros(n, bool), np.full(n, END_TOKEN),
        redrawn={reason: int(rng.integers(0, 50)) for reason in REDRAW_REASONS}, redraws_on=on,
    )


def test_concatenate_adds_the_counts_and_joins_the_reasons_on() -> None:
    rng = np.random.default_rng(0)
    ons = (frozenset({CUT_AT_CAP}), frozenset({RING_TYPES}), frozenset())
    parts = [_part(n, rng, on) for n, on in zip((7, 5, 3), ons, strict=True)]
    whole = Generated.concatenate(parts)
    assert len(whole.ended) == 15
    for reason in REDRAW_REASONS:
        assert whole.redrawn[reason] == sum(p.redrawn[reason] for p in parts)
        assert whole.redrawn_share(reason) == pytest.approx(whole.redrawn[reason] / 15)
    assert whole.redraws_on == {CUT_AT_CAP, RING_TYPES}
    # only the reasons that were on have a share, in the record's order, whatever the parts' order
    assert list(whole.redrawn_shares()) == [CUT_AT_CAP, RING_TYPES]
    assert Generated.concatenate(parts[::-1]).redrawn_shares() == whole.redrawn_shares()
    empty = Generated.concatenate([])
    assert empty.redraws_on == frozenset() and set(empty.redrawn.values()) == {0}


def test_select_keeps_the_record_of_the_whole_generation() -> None:
    whole = _part(10, np.random.default_rng(1), frozenset({BONDLESS, CUT_AT_CAP}))
    kept = whole.select(np.arange(10) % 3 == 0)
    assert len(kept.ended) == 4 and kept.redrawn == whole.redrawn and kept.redraws_on == whole.redraws_on
    assert kept.redrawn_share(BONDLESS) == pytest.approx(whole.redrawn[BONDLESS] / 4)  # per molecule returned
    before = dict(whole.redrawn)
    kept.redrawn[BONDLESS] += 1  # the sampler counts into the selection: the original stays as it was
    assert whole.redrawn == before


def test_each_reason_reads_its_setting_from_the_model() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    torch.manual_seed(0)
    plain, typed = (GraphAF(build_vocabulary(mols, ring_types=r), TINY) for r in (False, True))
    assert not any(reason.wanted(plain) for reason in REDRAW_REASONS)  # a new model: GraphAF's sampling
    plain.redraw_cut = True
    assert [reason.wanted(plain) for reason in REDRAW_REASONS] == [True, False, False, False, False]
    plain.redraw_bondless = True
    assert [reason.wanted(plain) for reason in REDRAW_REASONS] == [True, True, False, False, False]
    assert [reason.wanted(typed) for reason in REDRAW_REASONS] == [False, False, True, False, False]
    typed.redraw_hypervalent = True
    assert [reason.wanted(typed) for reason in REDRAW_REASONS] == [False, False, True, True, False]
    typed.redraw_unseen_rings = True
    assert [reason.wanted(typed) for reason in REDRAW_REASONS] == [False, False, True, True, True]


def _of_smiles(smiles: list[str]) -> Generated:
    """A generation of these molecules (their graphs are not looked at)."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return Generated(
        atoms=[np.zeros(1, np.int64)] * len(mols), bonds=[np.zeros((0, 3), np.int64)] * len(mols),
        mols=mols, smiles=smiles, resampled=np.zeros(len(mols), bool), ended=np.zeros(len(mols), np.int64),
    )


def test_a_hydrogen_on_a_hypervalent_atom_is_found_and_nothing_else() -> None:
    from flowstudio.molecules.generated import hydrogen_on_hypervalent

    smiles = [
        "C[SH](C)C",  # a lambda4-sulfane: three single bonds and a hydrogen
        "CS(C)=O", "CS(=O)(=O)N", "CSC", "CS", "c1ccsc1", "C[S+](C)C", "CP(C)C", "C[PH](C)(C)C",
    ]
    generated = _of_smiles(smiles)
    found = hydrogen_on_hypervalent(generated)
    # the sulfane and the phosphorane; sulfoxides, sulfonamides, thioethers, thiols, thiophenes,
    # sulfonium ions and phosphines are what molecules hold
    assert list(found) == [True, False, False, False, False, False, False, False, True]
    among = np.array([False] + [True] * (len(smiles) - 1))
    assert not hydrogen_on_hypervalent(generated, among)[0]  # only the molecules asked about


def test_a_ring_system_the_training_molecules_lack_is_found() -> None:
    from flowstudio.molecules.generated import unseen_ring_system
    from flowstudio.molecules.rings import ring_system_kinds

    known = frozenset(ring_system_kinds(Chem.MolFromSmiles("Cc1ccccc1.OC1CCNCC1")))  # benzene, piperidine
    smiles = ["Nc1ccccc1", "c1ccc(cc1)C1CCNCC1", "c1ccc2ccccc2c1", "CC1CC1", "CCO"]
    generated = _of_smiles(smiles)
    assert list(unseen_ring_system(generated, known)) == [False, False, True, True, False]
    assert not unseen_ring_system(generated, known, np.array([True, True, False, True, True]))[2]
    assert not unseen_ring_system(generated, None).any()  # a run that does not know its data's kinds


def test_the_reasons_are_reported_under_distinct_names() -> None:
    for name in ("key", "label", "phrase", "setting"):
        assert len({getattr(reason, name) for reason in REDRAW_REASONS}) == len(REDRAW_REASONS), name
