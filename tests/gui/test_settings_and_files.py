"""Settings persist in the config folder; files arrive by drag and drop, recent files, samples."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

pytestmark = pytest.mark.gui


def _shapes_file(tmp_path):
    from flowstudio.pointclouds import io

    rng = np.random.default_rng(0)
    path = tmp_path / "blobs.npz"
    io.write_points(path, rng.normal(size=(5, 300, 3)).astype(np.float32))
    return path


def _drop(window, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        window.rect().center(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    drop = QDropEvent(
        QPointF(window.rect().center()),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    return enter.isAccepted()


def test_drop_a_file_opens_it_in_its_workspace(window, qtbot, tmp_path) -> None:
    path = _shapes_file(tmp_path)
    assert _drop(window, path)
    qtbot.waitUntil(
        lambda: window.points.data is not None and window.points.data.source == path, timeout=20000
    )
    assert len(window.points.data.data.points) == 5
    smi = tmp_path / "two.smi"
    smi.write_text("CCO ethanol\nc1ccccc1 benzene\n")
    _drop(window, smi)
    assert window.current is window.molecules
    qtbot.waitUntil(lambda: window.molecules.data is not None, timeout=20_000)
    assert len(window.molecules.preview.cards) == 2


def test_settings_persist_across_sessions(window, qtbot, tmp_path) -> None:
    from flowstudio.gui.app import create_window
    from flowstudio.gui.settings import config_dir

    path = _shapes_file(tmp_path)
    window.open_path(path)
    qtbot.waitUntil(
        lambda: window.points.data is not None and window.points.data.source == path, timeout=20000
    )
    window.points.model_combo.setCurrentText("realnvp")
    window.points.preset_combo.setCurrentText("full")
    window.resize(1234, 777)
    assert window.settings.recent_files()[0] == str(path.resolve())
    recent = [a.text() for a in window.recent_menu.actions()]
    assert path.name in recent
    window.close()
    assert (config_dir() / "FlowStudio.ini").is_file()

    again = create_window(load_samples=False)
    qtbot.addWidget(again)
    again.confirm_close = lambda: True
    again.populate()
    assert again.points.model_combo.currentText() == "realnvp"
    assert again.points.preset_combo.currentText() == "full"
    assert again.size().width() == 1234
    assert again.settings.last_folder("data") == str(tmp_path)
    assert again.tabs.currentWidget() is again.points
    again.close()


def test_samples_menu_lists_both_workspaces(window) -> None:
    titles = [a.text() for a in window.samples_menu.actions()]
    assert "Point clouds" in titles and "Molecules" in titles
    assert any("MOSES" in t for t in titles)
