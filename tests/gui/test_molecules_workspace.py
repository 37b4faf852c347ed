"""The molecule workspace end to end: load, train GraphAF live, generate, 3-D, export."""

from __future__ import annotations

import pytest

from tests.gui.conftest import changed, grab, wait_idle

pytestmark = pytest.mark.gui

TINY_GRAPHAF = {
    "hidden": 8,
    "rgcn_layers": 1,
    "flow_layers": 1,
    "st_hidden": 8,
    "batch_size": 8,
    "max_validation": 4,
    "samples_every_s": 0.0,
    "samples_n": 4,
    "log_every": 1,
    "validate_every": 1000,
    "minutes": 0.0,
    "checkpoint_every_s": 3600.0,
    "ring_tilt_steps": 0,  # on in the presets; the stage has its own tests (tests/molecules/test_tilting.py)
}


@pytest.fixture
def small_set(tmp_path):
    from flowstudio.molecules.samples import default_molecule_set

    lines = default_molecule_set().path.read_text().splitlines()[:80]
    path = tmp_path / "small.smi"
    path.write_text("\n".join([*lines, "C1CC(", "not_a_smiles"]) + "\n")
    return path


def test_train_generate_view_and_export(window, qtbot, small_set, tmp_path) -> None:
    from flowstudio.molecules.io import read_molecules
    from flowstudio.workbench.provenance import read_provenance

    ws = window.molecules
    window.open_path(small_set)
    assert window.current is ws
    qtbot.waitUntil(lambda: ws.data is not None, timeout=30_000)
    assert ws.preview.cards and ws.skipped_list.count() == 2
    assert any(label == "Atom types" for label, _ in ws.data.rows)

    live_before = grab(ws.live_grid)
    ws.params.set_values({**TINY_GRAPHAF, "iters": 4})
    ws.start_training()
    assert ws.training, ws.banner.text()
    qtbot.waitUntil(lambda: bool(ws.live_grid.cards), timeout=60_000)
    assert changed(live_before, grab(ws.live_grid)), "the live molecules did not appear"
    wait_idle(qtbot, ws)
    qtbot.waitUntil(lambda: ws.model is not None, timeout=30_000)

    # generation at a temperature with a validity / uniqueness / novelty summary
    ws.tabs.setCurrentWidget(ws.sample_grid.parentWidget())
    ws.gen_count.setValue(12)
    ws.generate()
    qtbot.waitUntil(
        lambda: ws.generated is not None and len(ws.generated.smiles) == 12 and not ws.jobs.busy,
        timeout=60_000,
    )
    assert "valid" in ws.summary.text() and "novel" in ws.summary.text()
    temperature = ws.generation_page.temperature.value()  # the quick preset's bonds are cooler: said
    assert f"T = {temperature:.2f} (bonds {temperature * 0.667:.2f})" in ws.summary.text()
    assert ws.generation_page.bonds.value() == pytest.approx(temperature * 0.667, abs=0.005)

    # the bond steps at a temperature of their own, named in the summary and in the exports
    ws.generation_page.bonds.set_value(1.2)
    ws.generate()
    qtbot.waitUntil(lambda: "(bonds 1.20)" in ws.summary.text() and not ws.jobs.busy, timeout=60_000)
    assert ws.generation_page.generated_bonds == pytest.approx(1.2)

    # molecules with a kind of ring system the data lacks: the run's choice (off), then drawn again
    known = ws.generation_page.known_rings
    assert known.isEnabled() and not known.isChecked()
    assert "ring system the data lacks" not in ws.summary.text()
    known.setChecked(True)
    ws.generate()
    qtbot.waitUntil(lambda: "a ring system the data lacks, drawn again" in ws.summary.text(), timeout=60_000)
    wait_idle(qtbot, ws)

    # a 3-D conformer of a data molecule
    ws.tabs.setCurrentWidget(ws.view3d.parentWidget())
    before = ws.view3d.image()
    ws.show_3d("CC(=O)Nc1ccc(O)cc1")
    qtbot.waitUntil(lambda: ws.view3d.draw_count >= 1, timeout=30_000)
    assert changed(before, ws.view3d.image())

    # exports: SDF (valid ones) and CSV, read back by the engine's reader
    sdf = window.export_samples(tmp_path / "gen.sdf")
    csv = window.export_samples(tmp_path / "gen.csv")
    valid = [s for s in ws.generated.smiles if s]
    if valid:
        assert read_provenance(sdf).bond_temperature == pytest.approx(1.2)
        assert len(read_molecules(sdf)) == len(valid)
        assert len(read_molecules(csv)) == len(valid)


def tiny_model_on(window, qtbot, path):
    """The molecule workspace with ``path`` loaded and a tiny GraphAF trained for 2 steps on it."""
    ws = window.molecules
    window.open_path(path)
    qtbot.waitUntil(lambda: ws.data is not None, timeout=30_000)
    ws.params.set_values({**TINY_GRAPHAF, "iters": 2, "samples_n": 0})
    ws.start_training()
    wait_idle(qtbot, ws)
    qtbot.waitUntil(lambda: ws.model is not None and not ws.jobs.busy, timeout=60_000)
    return ws


def test_interpolation_between_two_molecules(window, qtbot, small_set) -> None:
    ws = tiny_model_on(window, qtbot, small_set)
    ws.tabs.setCurrentWidget(ws.interp_grid.parentWidget())
    ws.interp_a.setText("CCO")
    ws.interp_b.setText("c1ccccc1O")
    ws.interp_steps.setValue(5)
    ws.interpolate()
    qtbot.waitUntil(lambda: len(ws.interp_grid.entries) == 5, timeout=60_000)
    ws.interp_a.setText("C1CC(")
    ws.interpolate()
    assert "Interpolation" in ws.banner.text()
