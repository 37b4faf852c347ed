"""Bad files and wrong checkpoints give a message in the window and the log, never a crash."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.gui


def test_bad_point_file_gives_a_message(window, qtbot, tmp_path) -> None:
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 10\nproperty float x\nend_header\n1 2\n")
    before = window.points.data
    window.open_path(bad)
    qtbot.waitUntil(lambda: window.points.banner.isVisible(), timeout=20_000)
    assert "broken.ply" in window.points.banner.text()
    assert any(level == "error" and "broken.ply" in text for level, text in window.log_panel.lines)
    assert window.points.data is before  # the previous data stays loaded


def test_bad_molecule_file_gives_a_message(window, qtbot, tmp_path) -> None:
    bad = tmp_path / "junk.smi"
    bad.write_text("this is not a smiles\nneither(is this\n")
    window.open_path(bad)
    assert window.current is window.molecules
    qtbot.waitUntil(lambda: "junk.smi" in window.molecules.banner.text(), timeout=30_000)


def test_missing_file(window) -> None:
    window.open_path("/nonexistent/file.ply")
    assert "no such file" in window.current.banner.text()


def _checkpoint(path, kind: str) -> None:
    from flowstudio.training.checkpoint import save_checkpoint

    save_checkpoint(path, kind=kind, model_name="x", config={}, model_state={"w": torch.zeros(2)})


def test_wrong_kind_checkpoint_is_explained(window, qtbot, tmp_path) -> None:
    path = tmp_path / "points.pt"
    _checkpoint(path, "points")
    window.tabs.setCurrentWidget(window.molecules)
    window.open_checkpoint(path)
    ws = window.molecules
    qtbot.waitUntil(lambda: ws.banner.isVisible(), timeout=20_000)
    text = ws.banner.text()
    assert "points" in text and "molecules" in text, text
    assert ws.model is None


def test_corrupt_checkpoint_is_explained(window, qtbot, tmp_path) -> None:
    path = tmp_path / "corrupt.pt"
    path.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    window.open_path(path)
    ws = window.points
    qtbot.waitUntil(lambda: ws.banner.isVisible(), timeout=20_000)
    assert "corrupt.pt" in ws.banner.text()
    assert ws.model is None


def test_invalid_hyperparameter_is_refused_with_its_name(window) -> None:
    ws = window.points
    editor = ws.params.editors["lr"]
    editor.widget.setText("-3")
    assert editor.error and "lr" in editor.error
    assert editor.widget.property("invalid") is True
    ws.start_training()
    assert not ws.training
    assert "lr" in ws.banner.text()
