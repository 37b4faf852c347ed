"""The data-kind adapters on real files, real RDKit and real checkpoints, without Qt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError, CheckpointError, CheckpointKindError
from flowstudio.training.checkpoint import save_checkpoint
from flowstudio.training.events import Message, Progress
from flowstudio.workbench.engines import thin_progress
from flowstudio.workbench.molecules import MoleculesKind
from flowstudio.workbench.points import PointsKind, preview_picks, slice_image


def test_points_read_data_summarizes_the_collection(tmp_path: Path) -> None:
    from flowstudio.pointclouds import io

    path = tmp_path / "blobs.npz"
    points = np.random.default_rng(0).normal(size=(4, 100, 3)).astype(np.float32)
    np.savez(path, points=points, split=np.array(["train", "train", "train", "test"]))
    info = PointsKind().read_data(path)
    rows = dict(info.rows)
    assert rows["Shapes"] == "4" and rows["Points per shape"] == f"{io.DEFAULT_COLLECTION_POINTS:,}"
    assert rows["Split"] == "3 train · 1 test" and rows["Source"] == "blobs.npz"
    np.testing.assert_allclose(info.data.points, io.load(path).points)


def test_preview_spreads_over_the_collection() -> None:
    assert preview_picks(100, 3).tolist() == [0, 50, 99]
    assert preview_picks(2).tolist() == [0, 1]


def test_slice_image_geometry() -> None:
    r, z0 = 5, 0.3
    axis = np.linspace(-1.0, 1.0, r)
    coords = np.stack([*np.meshgrid(axis, axis, indexing="ij"), np.full((r, r), z0)], axis=-1)
    log_p = np.arange(r * r, dtype=float).reshape(r, r)
    reference = np.array([[0.5, -0.25, z0 + 0.01], [0.0, 0.0, z0 + 0.5]])
    image = slice_image(coords, log_p, reference, "z", z0)
    assert image.extent == pytest.approx((-1.0, 1.0, -1.0, 1.0))
    assert image.axes == ("x", "y")
    np.testing.assert_allclose(image.log_p, log_p.T)
    np.testing.assert_allclose(image.overlay, [[0.5, -0.25]])  # the far point is left out
    assert image.caption == "plane z = 0.300 · points within ±0.080 overlaid"
    assert slice_image(coords, log_p, None, "z", z0).overlay is None


def test_points_export(tmp_path: Path) -> None:
    clouds = np.random.default_rng(1).normal(size=(3, 50, 3)).astype(np.float32)
    kind = PointsKind()
    many = kind.export(tmp_path / "s.xyz", clouds)
    assert many.path.name == "s_000.xyz" and "wrote 3 files" in many.note
    assert len(list(tmp_path.glob("s_*.xyz"))) == 3
    one = kind.export(tmp_path / "s.npz", clouds)
    assert one.note == "" and one.path.is_file()
    with pytest.raises(BadInputError, match="no samples"):
        kind.export(tmp_path / "t.npz", None)


def test_molecules_read_data_and_export(tmp_path: Path) -> None:
    from flowstudio.molecules.io import read_molecules

    path = tmp_path / "few.smi"
    path.write_text("CCO ethanol\nc1ccccc1O phenol\nCC(=O)O acid\nC1CC(\n")
    kind = MoleculesKind()
    info = kind.read_data(path)
    rows = dict(info.rows)
    assert rows["Molecules"] == "3" and rows["Atom types"].startswith("C ") and "O" in rows["Atom types"]
    assert rows["Heavy atoms"].startswith("3–7") and info.skipped_count == 1
    preview = info.data["preview"]
    assert [e.title for e in preview] == ["ethanol", "phenol", "acid"] and "QED" in preview[0].properties

    exported = kind.export(tmp_path / "out.sdf", ["CCO", None, "c1ccccc1"])
    assert exported.note == "1 invalid molecule(s) left out of the SDF file" and exported.level == "warning"
    assert len(read_molecules(exported.path)) == 2
    with pytest.raises(BadInputError, match="no molecules"):
        kind.export(tmp_path / "none.smi", [])


def test_live_entries_title_the_step_and_mark_invalid_ones() -> None:
    entries = MoleculesKind().live_entries(["CCO", None, "C"], step=12)
    assert [e.title for e in entries] == ["step 12", "invalid", "C"]
    assert entries[1].smiles is None


def test_a_checkpoint_of_the_other_kind_says_where_to_open_it(tmp_path: Path) -> None:
    path = tmp_path / "points.pt"
    save_checkpoint(path, kind="points", model_name="x", config={}, model_state={"w": torch.zeros(2)})
    with pytest.raises(CheckpointKindError) as info:
        MoleculesKind().load_model(path)
    assert (info.value.found, info.value.expected) == ("points", "molecules")
    assert str(info.value).endswith("not a 'molecules' one. Open it from the Point clouds workspace.")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as info:
        PointsKind().load_model(corrupt)
    assert not isinstance(info.value, CheckpointKindError) and "corrupt.pt" in str(info.value)


def test_progress_is_thinned_but_the_last_step_always_arrives() -> None:
    def progress(step: int) -> Progress:
        return Progress(step, 10, 0.0, None, 1.0, {}, 1e-3)

    times = iter([0.0, 0.01, 0.02, 0.5, 0.51, 0.52])
    note = Message("note")
    events = [progress(1), progress(2), progress(3), note, progress(4), progress(5), progress(6)]
    out = list(thin_progress(iter(events), 0.1, clock=lambda: next(times)))
    steps = [e.step if isinstance(e, Progress) else "note" for e in out]
    # 2 is dropped (3 replaced it), 3 goes before the note, 5 is dropped, 6 arrives at the end
    assert steps == [1, 3, "note", 4, 6]


def test_dialog_filters_come_from_each_kinds_registry() -> None:
    assert any("*.ply" in f for f in PointsKind().open_filters())
    assert any("*.npz" in f for f in PointsKind().save_filters())
    assert any("*.smi" in f for f in MoleculesKind().open_filters())
    assert not any("*.ply" in f for f in MoleculesKind().save_filters())


def test_skipped_shapes_reach_the_data_panel(tmp_path: Path) -> None:
    folder = tmp_path / "shapes"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(2):
        np.savetxt(folder / f"ok{i}.xyz", rng.normal(size=(50, 3)))
    (folder / "broken.xyz").write_text("1 2\n")
    info = PointsKind().read_data(folder)
    assert info.skipped_count == 1 and info.skipped[0].startswith("broken.xyz: ")
    assert dict(info.rows)["Shapes"] == "2"


def test_a_checkpoint_is_copied_whole_or_refused(tmp_path: Path) -> None:
    from flowstudio.workbench.engines import copy_checkpoint

    source = tmp_path / "best.pt"
    source.write_bytes(b"weights" * 1000)
    copied = copy_checkpoint(source, tmp_path / "mine")
    assert copied == tmp_path / "mine.pt" and copied.read_bytes() == source.read_bytes()
    with pytest.raises(BadInputError, match=r"Could not save the checkpoint to .*missing"):
        copy_checkpoint(source, tmp_path / "missing" / "x.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "mine.pt"]  # no temporary file left


def test_the_window_samples_molecules_with_the_runs_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Temperature and valency retries come from the run, as in ``mols sample``."""
    import flowstudio.molecules.generate as generate_module
    from flowstudio.molecules.task import MoleculeTask
    from flowstudio.training.restore import RestoredTask

    tiny = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "max_validation": 4}
    smiles = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "OCC(O)CO", "CC(C)C"]
    task = MoleculeTask(smiles, overrides={**tiny, "temperature": 0.6, "max_retries": 3})
    restored = RestoredTask(task, Path("model.pt"), step=0, metric=None)
    kind = MoleculesKind()
    assert kind.run_temperature(restored) == 0.6
    generation = kind.generate(restored, 5, 0.6, True, set(smiles))
    assert len(generation.result.smiles) == 5 and len(generation.entries) == 5
    always = {"valid", "valid w/o check", "unique", "novel"}
    rings = {"rings unlike their types, drawn again"}  # the run's atom types carry ring membership
    bondless = {"ended by a bondless atom, drawn again"}
    hyper = {"hydrogen on a hypervalent atom, drawn again"}
    assert set(generation.summary) == always | rings | bondless | hyper | {"cut at the size cap, drawn again"}
    assert list(generation.summary)[4:] == [  # the shares the sampler counted, in the record's order
        "cut at the size cap, drawn again", *bondless, *rings, *hyper
    ]
    for reason in generation.result.redraws_on:
        assert generation.summary[reason.label] == generation.result.redrawn_share(reason)
    assert set(kind.generate(restored, 5, 0.6, False, set(smiles)).summary) == always  # no check: no redraw
    task.model.redraw_cut = False  # a run from before the redraw: nothing to report for it
    summary = kind.generate(restored, 5, 0.6, True, set(smiles)).summary
    assert set(summary) == always | rings | bondless | hyper
    task.model.redraw_cut = True
    calls = []
    real = generate_module.generate
    monkeypatch.setattr(generate_module, "generate", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    from flowstudio.workbench.evaluation import ProgressBox

    progress = ProgressBox()
    evaluation = kind.evaluate_in_full(restored, 10, 0.6, smiles, False, progress)
    assert calls == [{"max_retries": 3, "edge_temperature": None, "redraw_unseen_rings": None}]  # the run's
    assert evaluation.samples == 10 and evaluation.temperature == 0.6 and progress.fraction == 1.0
    assert evaluation.bond_temperature == kind.bond_temperature(restored, 0.6)
    evaluation = kind.evaluate_in_full(restored, 10, 0.6, smiles, False, progress, 0.3)
    kind.generate(restored, 5, 0.6, True, set(smiles), 0.3)
    assert calls[1:] == [{"max_retries": 3, "edge_temperature": 0.3, "redraw_unseen_rings": None}] * 2
    assert evaluation.bond_temperature == 0.3  # the window's Bonds slider
    # the window's Known rings box: the run's setting, then the user's choice
    assert kind.known_ring_systems(restored) is False  # a new run knows its data's kinds, redraw off
    run = set(kind.generate(restored, 5, 0.6, True, set(smiles)).summary)
    unseen = {"a ring system the data lacks, drawn again"}
    assert set(kind.generate(restored, 5, 0.6, True, set(smiles), None, True).summary) == run | unseen
    task.model.ring_systems = None  # a run from before the kinds were kept
    assert kind.known_ring_systems(restored) is None
    assert set(kind.generate(restored, 5, 0.6, True, set(smiles), None, True).summary) == run


def test_metric_help_comes_from_the_molecule_engine() -> None:
    from flowstudio.molecules.metric_help import METRIC_HELP

    assert MoleculesKind().metric_help() is METRIC_HELP and "FCD/Test" in METRIC_HELP
