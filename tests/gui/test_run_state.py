"""The window draws the workbench's run state: title, Training menu and run bar follow a run."""

from __future__ import annotations

import pytest

from tests.gui.conftest import train_tiny

pytestmark = pytest.mark.gui


def test_title_menu_and_run_bar_follow_the_run(window, qtbot) -> None:
    ws = window.points
    train_tiny(qtbot, ws, iters=100_000)
    assert window.windowTitle().endswith(" — training (Point clouds)")
    assert not window.train_action.isEnabled() and window.stop_action.isEnabled()
    assert not ws.train_button.isEnabled() and not ws.model_combo.isEnabled()
    ws.pause_training()
    assert ws.run.state.value == "paused" and ws.progress.format().startswith("paused · ")
    assert window.pause_action.isEnabled() and ws.resume_button.isEnabled()
    ws.stop_training()
    assert ws.state == "stopping" and not ws.stop_button.isEnabled()
    qtbot.waitUntil(lambda: ws.state == "idle", timeout=30_000)
    assert ws.run.state.value == "finished" and ws.progress.format().endswith(" · done")
    assert "training" not in window.windowTitle() and window.train_action.isEnabled()
    assert ws.model_combo.isEnabled() and ws.continue_box.isVisible()
