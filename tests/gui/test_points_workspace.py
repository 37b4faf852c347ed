"""The point-cloud workspace end to end: launch, train live, explore, export, stop."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.gui.conftest import changed, grab, train_tiny, wait_idle

pytestmark = pytest.mark.gui


def test_window_opens_ready_to_train(window) -> None:
    assert window.windowTitle() == f"Point clouds · {window.points.data.name}"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Point clouds", "Molecules"]
    ws = window.points
    assert ws.data is not None and ws.data.data.points.ndim == 3
    assert ws.preset_combo.currentText() == "quick"
    assert ws.train_button.isEnabled()
    assert ws.device_combo.itemData(0) == "auto" and ws.device_combo.findData("cpu") >= 0
    # every engine option has an editor with a tooltip, except the device (its own selector)
    assert "lr" in ws.params.editors and "device" not in ws.params.editors
    assert all(e.widget.toolTip() for e in ws.params.editors.values())


def test_the_form_lists_exactly_the_schemas_settings(window) -> None:
    from flowstudio.molecules.settings import HYPERPARAMETERS
    from flowstudio.pointclouds.settings import hyperparameters
    from flowstudio.workbench.engines import ENGINE_PARAMS

    ws = window.points
    for model in ("pointflow", "nsf", "maf"):
        ws.model_combo.setCurrentText(model)
        assert set(ws.params.editors) == {p.name for p in hyperparameters(model)} - set(ENGINE_PARAMS)
        assert ("bins" in ws.params.editors) == (model == "nsf")
    assert set(window.molecules.params.editors) == {p.name for p in HYPERPARAMETERS} - set(ENGINE_PARAMS)


def test_choosing_an_objective_brings_its_recipe_but_a_runs_settings_stay_as_trained(window) -> None:
    ws = window.points

    def choose(name: str, value: str) -> None:  # as a user picks it in the combo box
        widget = ws.params.editors[name].widget
        widget.setCurrentIndex(widget.findText(value))

    ws.model_combo.setCurrentText("cnf")
    assert ws.params.values()["objective"] == "likelihood" and ws.params.values()["point_step_power"] == 1.0
    choose("objective", "flow_matching")
    assert ws.params.values()["point_step_power"] == 2.0  # the CLI's --set objective=flow_matching
    choose("objective", "likelihood")
    assert ws.params.values()["point_step_power"] == 1.0
    ws.model_combo.setCurrentText("pointflow")
    assert ws.params.values()["objective"] == "flow_matching" and ws.params.values()["trace"] == "exact"
    choose("objective", "likelihood")
    assert ws.params.values()["trace"] == "hutchinson" and ws.params.values()["point_steps"] == 0
    choose("objective", "flow_matching")
    # A run's settings fill the form as the run was trained, whatever its objective's recipe says.
    trained = {**ws.params.values(), "objective": "likelihood", "trace": "exact", "point_steps": 5}
    ws._set_form("pointflow", "quick", trained)
    assert {k: ws.params.values()[k] for k in ("objective", "trace", "point_steps")} == {
        "objective": "likelihood", "trace": "exact", "point_steps": 5,
    }
    ws.params.editors["lr"].widget.setText("0.001")  # a later edit of another setting
    assert ws.params.values()["trace"] == "exact"


def test_train_live_then_explore_and_export(window, qtbot, tmp_path) -> None:
    ws = window.points
    live_before, chart_before = ws.live_view.image(), grab(ws.chart)
    train_tiny(qtbot, ws, iters=4)
    qtbot.waitUntil(lambda: ws.live_view.draw_count >= 1, timeout=60_000)
    assert ws.samples_received >= 1
    assert changed(live_before, ws.live_view.image()), "the live samples view did not change"
    qtbot.waitUntil(
        lambda: "loss" in ws.chart.series and len(ws.chart.series["loss"].values) >= 2, timeout=60_000
    )
    assert changed(chart_before, grab(ws.chart)), "the loss chart did not change"
    assert ws.progress.value() > 0 and "step" in ws.progress.format()
    wait_idle(qtbot, ws)
    assert ws.session.finished_event.reason == "iterations"
    qtbot.waitUntil(lambda: ws.model is not None, timeout=30_000)

    # samples at a temperature, colored by log p
    ws.tabs.setCurrentWidget(ws.samples_view.parentWidget())
    qtbot.waitUntil(lambda: ws.samples_view.draw_count >= 1 and not ws.jobs.busy, timeout=60_000)
    before = ws.samples_view.image()
    ws.sample_count.setValue(3)
    ws.sample_points.setValue(300)
    ws.color_by_logp.setChecked(True)  # recolours the clouds shown; Resample draws 3 new ones
    ws.samples_page.resample()
    qtbot.waitUntil(
        lambda: ws.sampled is not None and len(ws.sampled) == 3 and not ws.jobs.busy, timeout=60_000
    )
    assert changed(before, ws.samples_view.image())

    # density slice: a heat map drawn on the widget
    ws.tabs.setCurrentWidget(ws.slice_view.parentWidget())
    blank = grab(ws.slice_view)
    ws.slice_resolution.setValue(24)
    qtbot.waitUntil(lambda: ws.slice_view._image is not None and not ws.jobs.busy, timeout=60_000)
    assert changed(blank, grab(ws.slice_view))

    # export in the data's frame, read back
    from flowstudio.pointclouds import io

    written = window.export_samples(tmp_path / "samples.npz")
    assert written is not None
    with np.load(written) as back:
        np.testing.assert_allclose(back["points"], ws.sampled, atol=1e-6)
    xyz = window.export_samples(tmp_path / "first.xyz")  # one file per shape for one-shape formats
    files = sorted(tmp_path.glob("first_*.xyz"))
    assert xyz == files[0] and len(files) == 3
    np.testing.assert_allclose(io.read_shape(files[0]), ws.sampled[0], atol=1e-4)
    unknown = window.export_samples(tmp_path / "s.foo")  # an unknown format: a message, not a crash
    assert unknown is None and "Export failed" in ws.banner.text()

    # the checkpoint saves and reopens; a screenshot is a PNG
    saved = window.save_checkpoint(tmp_path / "model.pt", ws._best_checkpoint())
    assert saved.is_file()
    ws.model = None
    window.open_checkpoint(saved)
    qtbot.waitUntil(lambda: ws.model is not None, timeout=30_000)
    shot = window.save_screenshot(tmp_path / "view.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stop_pause_and_responsiveness(window, qtbot) -> None:
    """Pause/Resume/Stop work, Stop keeps a checkpoint quickly, and the event loop never blocks."""
    from PySide6.QtCore import QTimer

    ws = window.points
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    train_tiny(qtbot, ws, iters=100_000)
    qtbot.waitUntil(lambda: ws.samples_received >= 2, timeout=60_000)
    ws.pause_training()
    assert ws.state == "paused" and ws.resume_button.isVisible()
    # Progress events already on their way to the window still arrive after the pause; once
    # they have, no further step may run while paused.
    qtbot.wait(500)
    step = ws.last_progress.step
    qtbot.wait(1500)
    assert ws.last_progress.step == step
    ws.resume_training()
    qtbot.waitUntil(lambda: ws.last_progress.step > step + 1, timeout=60_000)
    last[0] = time.monotonic()
    gaps.clear()
    qtbot.wait(3000)  # training and live redraws going on
    stopped_at = time.monotonic()
    ws.stop_training()
    qtbot.waitUntil(lambda: ws.state == "idle", timeout=30_000)
    stop_latency = time.monotonic() - stopped_at
    timer.stop()
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"
    assert stop_latency < 10.0
    assert ws.session.finished_event.reason == "stopped"
    assert (ws.run_dir / "checkpoints" / "latest.pt").is_file()

    # Train again with "Continue last run": the same run goes on from its checkpoint
    stopped_step, run_dir = ws.session.finished_event.step, ws.run_dir
    assert ws.continue_box.isVisible() and ws.continue_box.isChecked()
    ws.start_training()
    qtbot.waitUntil(
        lambda: ws.last_progress is not None and ws.last_progress.step > stopped_step, timeout=60_000
    )
    assert ws.run_dir == run_dir
    ws.stop_training()
    qtbot.waitUntil(lambda: ws.state == "idle", timeout=30_000)


def test_close_while_training_leaves_no_thread(window, qtbot) -> None:
    from flowstudio.gui.views_points import VtkView

    ws = window.points
    train_tiny(qtbot, ws, iters=100_000)
    qtbot.waitUntil(lambda: ws.live_view.draw_count >= 1, timeout=60_000)
    asked = []
    window.confirm_close = lambda: asked.append(True) or True
    window.close()  # stops the run; the window stays responsive until its checkpoint is written
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert asked == [True], "closing while training must ask first, once"
    session = ws.session
    assert session.thread.wait(5000) and session.thread.isFinished()
    assert (ws.run_dir / "checkpoints" / "latest.pt").is_file()
    assert ws.live_view.closed and ws.live_view not in VtkView.open_views
    assert session.finished_event is None or session.finished_event.reason == "stopped"


def test_refusing_to_close_keeps_training(window, qtbot) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=100_000)
    window.confirm_close = lambda: False
    assert not window.close()
    assert ws.training
    window.confirm_close = lambda: True
