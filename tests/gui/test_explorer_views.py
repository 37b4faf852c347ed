"""Views that read well (issue 15): the density slice's robust colours, contours and the
conditioning shape with its plane; 'Color by log p(x)' recolours the shapes shown; the
interpolation's searchable ends, grid strip and animation; labels that stay under their
shapes; the loss chart's panes, log scale and smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from flowstudio.workbench.slices import SLICE_RANGE_NATS
from tests.gui.conftest import changed, grab, train_tiny

pytestmark = pytest.mark.gui


def test_trained_views(window, qtbot, tmp_path) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=3)
    qtbot.waitUntil(lambda: ws.state == "idle" and ws.model is not None, timeout=60_000)

    # the slice: conditioned on a picked shape, drawn beside it in 3-D with the plane
    page = ws.slice_page
    ws.tabs.setCurrentWidget(page)
    page.resolution.setValue(32)
    page.shape.setCurrentIndex(3)
    page.refresh()
    qtbot.waitUntil(lambda: page.image is not None and not ws.jobs.busy, timeout=60_000)
    lo, hi = page.image.color_range
    assert 0 < hi - lo <= SLICE_RANGE_NATS + 1e-9
    assert np.nanmin(page.image.log_p) < lo  # the far plane is clipped, not stretching the colours
    assert page.image.contours and all(len(seg) for _, seg in page.image.contours)
    pixels = grab(page.view).astype(float)
    assert pixels.std() > 20  # not one colour
    qtbot.waitUntil(lambda: page.shape_view.draw_count >= 1, timeout=10_000)
    assert page.shape_view.plotter.actors.get("slice-plane") is not None

    # recolouring keeps the very clouds shown
    ws.tabs.setCurrentWidget(ws.samples_page)
    qtbot.waitUntil(lambda: ws.sampled is not None and not ws.jobs.busy, timeout=60_000)
    shown, before = ws.sampled, ws.samples_view.image()
    ws.color_by_logp.setChecked(True)
    qtbot.waitUntil(lambda: ws.samples_page.logp is not None and not ws.jobs.busy, timeout=60_000)
    assert ws.sampled is shown and ws.samples_page.logp.shape == shown.shape[:2]
    assert changed(before, ws.samples_view.image())

    # exports and screenshots say where they came from; an opened export shows it
    from flowstudio.workbench.provenance import read_provenance

    exported = window.export_samples(tmp_path / "shape.ply")
    origin = read_provenance(exported)
    assert origin.run == ws.run_dir.name and origin.step == ws.model.step
    assert (
        origin.seed == ws.samples_page.sampled_seed
        and origin.temperature == ws.samples_page.sampled_temperature
    )
    shot = window.save_screenshot(tmp_path / "shot.png")
    assert read_provenance(shot) == origin
    open_png_and_see_its_provenance(window, shot, origin, tmp_path)

    # interpolation: searchable ends, a grid strip, an animation
    page = ws.interpolation_page
    ws.tabs.setCurrentWidget(page)
    assert page.shape_a.isEditable()
    completer = page.shape_a.completer()
    assert completer.filterMode() == Qt.MatchFlag.MatchContains
    completer.setCompletionPrefix("chair")
    assert completer.completionCount() > 0
    page.steps.setValue(4)
    page.refresh()
    qtbot.waitUntil(lambda: page.frames is not None and not ws.jobs.busy, timeout=60_000)
    page.slider.set_value(0.0)
    page.play.setChecked(True)
    qtbot.waitUntil(lambda: page.slider.value() > 0, timeout=5_000)
    assert not page.strip.isChecked()
    page.play.setChecked(False)

    window.open_path(exported)  # the export, opened: the data panel says where it came from
    qtbot.waitUntil(lambda: ws.data is not None and ws.data.source == exported, timeout=30_000)
    assert dict(ws.data.rows)["From"] == origin.text()


def open_png_and_see_its_provenance(window, shot, origin, tmp_path) -> None:
    """A saved screenshot, opened (File > Open… and dropped): the picture with its run, model,
    step, temperature and seed; a PNG from elsewhere says it has none; a broken one is refused."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from flowstudio.gui.image_dialog import NO_PROVENANCE

    window.open_path(shot)
    dialog = window.image_dialog
    assert dialog.isVisible() and dialog.origin.text() == f"From {origin.text()}"
    dialog.close()
    plain = tmp_path / "plain.png"
    window.grab().save(str(plain), "PNG")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(plain))])
    drop = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(drop)
    assert window.image_dialog is not dialog and window.image_dialog.origin.text() == NO_PROVENANCE
    window.image_dialog.close()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    window.open_path(broken)
    assert "not a PNG image" in window.current.banner.text()


def test_labels_stay_under_their_shapes(window, qtbot) -> None:
    """Drawing new clouds of the same layout must look exactly like drawing them afresh."""
    from flowstudio.gui.views_points import CloudView

    rng = np.random.default_rng(0)
    small = [rng.normal(size=(200, 3)).astype(np.float32) * 0.2 for _ in range(3)]
    large = [c * 4 + np.array([0, 2, 0], np.float32) for c in small]
    redrawn, fresh = CloudView(window), CloudView(window)
    for view in (redrawn, fresh):
        view.resize(600, 300)
        view.show()
    redrawn.show_clouds(small, labels=["a", "b", "c"], columns=3)
    redrawn.show_clouds(large, labels=["a", "b", "c"], columns=3, reset_camera=True)
    fresh.show_clouds(large, labels=["a", "b", "c"], columns=3, reset_camera=True)
    assert not changed(redrawn.image(), fresh.image(), threshold=0.5)
    for view in (redrawn, fresh):
        view.close_view()


def test_loss_chart_panes_log_and_smoothing(qtbot) -> None:
    from flowstudio.gui.charts import LossChart

    chart = LossChart()
    qtbot.addWidget(chart)
    chart.resize(800, 400)
    chart.show()
    rng = np.random.default_rng(0)
    for step in range(1, 300):
        nll = 3000 * np.exp(-step / 40) - 5 + rng.normal(0, 3)
        chart.add(step, {"nll": nll, "kinetic": 0.02 + 0.01 * rng.random()}, {"NFE forward": 20 + step // 30})
    plain = grab(chart)
    assert len(chart.panes) == 1
    chart.panes_button.setChecked(True)
    panes = grab(chart)
    assert [[s.name for s in pane.series] for pane in chart.panes] == [["nll"], ["kinetic"], ["NFE forward"]]
    assert changed(plain, panes)
    kinetic = chart.panes[1]
    assert kinetic.rng[1] - kinetic.rng[0] < 0.05  # the small term has a scale of its own
    chart.panes_button.setChecked(False)
    chart.log_button.setChecked(True)
    logged = grab(chart)
    assert changed(plain, logged)
    chart.smooth_button.setChecked(True)
    assert changed(logged, grab(chart))


def test_training_history_is_kept_in_the_run_and_scrubbed(window, qtbot) -> None:
    from flowstudio.workbench.history import SampleHistory

    ws = window.points
    train_tiny(qtbot, ws, iters=6)
    qtbot.waitUntil(lambda: ws.state == "idle", timeout=60_000)
    saved = SampleHistory.load(ws.run_dir)
    assert len(saved) >= 2 and [s.step for s in saved.snapshots] == ws.history_bar.steps
    assert ws.history_bar.live
    qtbot.waitUntil(lambda: ws.live_view.draw_count >= 1, timeout=10_000)
    live = ws.live_view.image()
    ws.history_bar.slider.setValue(0)  # the first snapshot
    assert not ws.history_bar.live and "step" in ws.history_bar.readout.text()
    np.testing.assert_array_equal(ws.live_points, saved.snapshots[0].points)
    assert changed(live, ws.live_view.image())


def test_big_clouds_rotate_with_an_adaptive_subset(window, monkeypatch) -> None:
    from flowstudio.gui import views_points

    monkeypatch.setattr(views_points, "SPHERE_LIMIT", 2_000)
    monkeypatch.setattr(views_points, "LOD_POINTS", 4_000)
    monkeypatch.setattr(views_points, "LOD_MIN_POINTS", 500)
    cloud = np.random.default_rng(0).normal(size=(20_000, 3)).astype(np.float32)
    view = views_points.CloudView(window)
    view.resize(500, 400)
    view.show()
    view.show_clouds([cloud])
    assert view._actor.GetVisibility() and not view._lod.GetVisibility()
    view.set_interacting(True)  # the mouse starts a rotation
    assert view._lod.GetVisibility() and not view._actor.GetVisibility()
    assert view._lod_mesh.n_points == 4_000
    view._adapt_lod(10 * views_points.LOD_FRAME_S)  # a slow frame: fewer points
    assert 500 <= view.lod_budget < 4_000 and view._lod_mesh.n_points == view.lod_budget
    slow = view.lod_budget
    view._adapt_lod(0.0)  # a fast one: more again
    assert view.lod_budget == min(4_000, 2 * slow)
    view.set_interacting(False)  # released: the whole cloud
    assert view._actor.GetVisibility() and not view._lod.GetVisibility()
    view.close_view()
