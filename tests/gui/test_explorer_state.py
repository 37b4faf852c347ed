"""What a demanding user hit in the window (issue 15): a banner that moved the views, a
title that repeated the application's name, "Train a model…" while training, no warning
before a second run, settings that forgot the temperatures, the view tab and the model,
a Help menu with only About."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from flowstudio.workbench import texts
from tests.gui.conftest import train_tiny

pytestmark = pytest.mark.gui


def test_a_message_never_moves_the_views(window, qtbot) -> None:
    ws = window.points
    QApplication.processEvents()
    before = ws.tabs.geometry(), ws.train_button.mapTo(window, ws.train_button.rect().topLeft())
    ws.error("a long error\nwith a second line " + "that goes on " * 30)
    QApplication.processEvents()
    assert ws.banner.isVisible() and ws.banner.text().startswith("a long error")
    after = ws.tabs.geometry(), ws.train_button.mapTo(window, ws.train_button.rect().topLeft())
    assert after == before
    ws.banner.hide()
    QApplication.processEvents()
    assert (ws.tabs.geometry(), ws.train_button.mapTo(window, ws.train_button.rect().topLeft())) == before


def test_title_and_help(window) -> None:
    assert "FlowStudio" not in window.windowTitle()  # Qt appends the display name itself
    assert QApplication.applicationDisplayName() == "FlowStudio"
    assert window.points.data.name in window.windowTitle()
    url = window.documentation_url()
    assert url is not None and url.toLocalFile().endswith("README.md")
    shortcuts = dict(window.shortcuts())
    assert shortcuts["F5"] == "Train" and "F1" in shortcuts


def test_views_follow_the_run_and_a_second_run_is_warned(window, qtbot, tmp_path) -> None:
    from flowstudio.molecules.samples import default_molecule_set

    ws = window.points
    assert ws.samples_view.placeholder_text == texts.NEEDS_MODEL
    molecules = window.molecules
    small = tmp_path / "small.smi"
    small.write_text("\n".join(default_molecule_set().path.read_text().splitlines()[:40]) + "\n")
    molecules.load_path(small)
    qtbot.waitUntil(lambda: molecules.data is not None, timeout=30_000)

    train_tiny(qtbot, ws, iters=100_000)
    assert ws.samples_view.placeholder_text == texts.TRAINING
    molecules.start_training()  # refused with a warning: two runs would share the cores
    assert not molecules.training
    assert not molecules.banner.isHidden()
    assert molecules.banner.full_text.startswith("Point clouds is training")
    ws.stop_training()
    qtbot.waitUntil(lambda: ws.state == "idle", timeout=30_000)
    qtbot.waitUntil(lambda: ws.model is not None and not ws.jobs.busy, timeout=30_000)
    assert "Train a model" not in ws.interpolation_page.view.placeholder_text


def test_settings_keep_temperatures_view_tab_and_explored_model(window, qtbot) -> None:
    from flowstudio.gui.app import create_window

    ws = window.points
    train_tiny(qtbot, ws, iters=2)
    qtbot.waitUntil(lambda: ws.state == "idle" and ws.model is not None, timeout=60_000)
    ws.samples_page.temperature.set_value(0.6)
    ws.samples_page.temperature.released.emit(0.6)
    ws.tabs.setCurrentWidget(ws.slice_page)
    explored = ws.model.path
    window.close()

    again = create_window(load_samples=False)
    qtbot.addWidget(again)
    try:
        again.populate()
        assert again.points.samples_page.temperature.value() == pytest.approx(0.6)
        assert again.points.restored_tab == again.points.tabs.indexOf(again.points.slice_page)
        qtbot.waitUntil(lambda: again.points.model is not None, timeout=30_000)
        assert again.points.model.path == explored
    finally:
        again.confirm_close = lambda: True
        again.close()


def test_a_first_start_opens_the_demo_model(window, qtbot, tmp_path, monkeypatch) -> None:
    import shutil

    from flowstudio.gui.app import create_window
    from flowstudio.pointclouds.samples import samples_dir

    ws = window.points
    train_tiny(qtbot, ws, iters=2)
    qtbot.waitUntil(lambda: ws.state == "idle" and ws.model is not None, timeout=60_000)
    samples = tmp_path / "samples"
    (samples / "models").mkdir(parents=True)
    (samples / "pointclouds").symlink_to(samples_dir() / "pointclouds")
    shutil.copytree(ws.run_dir, samples / "models" / "points-pointflow")
    window.close()
    monkeypatch.setenv("FLOWSTUDIO_SAMPLES", str(samples))
    monkeypatch.setenv("FLOWSTUDIO_DEMO", "1")
    monkeypatch.setenv("FLOWSTUDIO_CONFIG_DIR", str(tmp_path / "fresh-config"))  # a first start

    fresh = create_window(load_samples=False)
    qtbot.addWidget(fresh)
    try:
        fresh.populate()
        qtbot.waitUntil(lambda: fresh.points.model is not None, timeout=30_000)
        assert fresh.points.model.path.parent.parent.name == "points-pointflow"
        assert fresh.molecules.model is None  # no molecule demo in this samples folder
    finally:
        fresh.confirm_close = lambda: True
        fresh.close()


def test_the_side_panel_tells_the_explored_model_from_the_next_training(window, qtbot) -> None:
    """The window opens on the demo PointFlow while the form keeps the model last chosen for
    training (here nsf): two boxes, each naming its own model."""
    ws = window.points
    assert not ws.explored_box.isVisibleTo(window)  # nothing explored yet
    ws.model_combo.setCurrentText("nsf")
    demo = ws.kind_adapter.demo_checkpoint()
    assert demo is not None, "the repository ships the demo PointFlow run"
    ws.open_model(demo, announce=False)
    qtbot.waitUntil(lambda: ws.model is not None, timeout=30_000)
    assert ws.explored_box.isVisibleTo(window)
    assert (ws.explored_box.title(), ws.model_box.title()) == ("Exploring", "Next training")
    assert ws.model_label.text().startswith("pointflow, step ")
    assert f"{demo.name} of run points-pointflow" in ws.model_label.text()
    assert ws.model_combo.currentText() == "nsf"
