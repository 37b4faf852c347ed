"""Fixtures for the GUI tests: a real FlowStudio window on the X server (Xvfb in CI).

Settings and runs go to a temporary folder; every test's window is closed at the end and
must leave no training thread behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# Tiny networks so that a handful of steps take a second, not minutes.
TINY_POINTS = {
    "latent_dim": 8,
    "encoder_hidden": "16-16",
    "prior_hidden": "16",
    "point_hidden": "16-16",
    "batch_size": 4,
    "train_points": 64,
    "snapshot_points": 256,
    "val_shapes": 2,
    "steps": 1,
    "samples_every_s": 0.0,
    "samples_n": 2,
    "log_every": 1,
    "validate_every": 1000,
    "checkpoint_every_s": 3600.0,
}


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("FLOWSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PYVISTA_OFF_SCREEN", "false")
    monkeypatch.setenv("FLOWSTUDIO_DEMO", "0")  # windows start empty unless a test asks for the demo


@pytest.fixture
def window(qtbot, monkeypatch: pytest.MonkeyPatch):
    """The main window, shown, with the engines loaded and the default sample read."""
    from flowstudio.gui.app import create_app, create_window

    create_app([])
    win = create_window(load_samples=False)
    qtbot.addWidget(win)
    win.confirm_close = lambda: True
    win.reopen_last_run = False
    win.populate()
    for ws in win.workspaces:  # the tests of the live views train in the window's thread
        ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData("window"))
    qtbot.waitUntil(lambda: win.points.data is not None, timeout=60_000)
    win.load_samples_on_show = False  # tests load the (small) molecule files they need
    yield win
    if win.isVisible():
        win.close()
    for ws in win.workspaces:
        for session in ws.sessions_started:
            assert session.thread.wait(30_000), "a training thread outlived its window"
            assert session.thread.isFinished()
        for run in ws.folder_sessions:
            assert run.wait(60_000), "a trainer process outlived its window"


def changed(before: np.ndarray, after: np.ndarray, threshold: float = 1.0) -> bool:
    """Whether two screenshots differ visibly (mean absolute difference over pixels)."""
    if before.shape != after.shape:
        return True
    return float(np.abs(before.astype(np.int16) - after.astype(np.int16)).mean()) > threshold


def grab(widget) -> np.ndarray:
    from flowstudio.gui.views_points import qimage_to_array

    return qimage_to_array(widget.grab().toImage())


def train_tiny(qtbot, ws, iters: int = 200) -> None:
    """Start a tiny PointFlow run in the points workspace ``ws``; wait for its first progress."""
    ws.params.set_values({**TINY_POINTS, "iters": iters})
    ws.start_training()
    assert ws.training, ws.banner.text()
    qtbot.waitUntil(lambda: ws.last_progress is not None, timeout=60_000)


def wait_idle(qtbot, ws, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: ws.state == "idle" and not ws.jobs.busy, timeout=timeout)
