"""The training history stays bounded, spans the whole run and survives its folder."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import numpy as np

from flowstudio.workbench.history import MAX_POINTS, SampleHistory


def cloud_event(step: int) -> SimpleNamespace:
    points = np.full((2, 3000, 3), step, dtype=np.float32)
    return SimpleNamespace(step=step, temperature=0.8, points=points, smiles=None)


def test_a_long_run_keeps_a_bounded_even_history(tmp_path) -> None:
    history = SampleHistory(limit=8)
    for step in range(1, 201):
        history.add(cloud_event(step))
    steps = [s.step for s in history.snapshots]
    assert len(steps) <= 8 and steps[0] == 1 and steps[-1] > 150
    gaps = np.diff(steps)
    assert gaps.max() <= 2 * gaps.min()  # evenly spread over the run
    assert history.snapshots[0].points.shape == (2, MAX_POINTS, 3)

    history.save(tmp_path)
    back = SampleHistory.load(tmp_path)
    assert [s.step for s in back.snapshots] == steps
    np.testing.assert_array_equal(back.snapshots[-1].points, history.snapshots[-1].points)
    assert stat.S_IMODE((tmp_path / "history.npz").stat().st_mode) & 0o044  # readable by others


def test_molecule_history_round_trips_failed_decodes(tmp_path) -> None:
    history = SampleHistory()
    history.add(SimpleNamespace(step=5, temperature=0.7, points=None, smiles=("CCO", None)))
    history.add(SimpleNamespace(step=9, temperature=0.7, points=None, smiles=("c1ccccc1",)))
    history.save(tmp_path)
    back = SampleHistory.load(tmp_path)
    assert back.snapshots[0].smiles == ("CCO", None) and back.snapshots[1].smiles[0] == "c1ccccc1"
    assert len(SampleHistory.load(tmp_path / "missing")) == 0
