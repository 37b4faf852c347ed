"""Runs outside the window's thread: a trainer child process the window launches and follows,
a run the CLI trains listed by the runs panel, followed live, stopped and reopened for the
analysis pages, and ``flowstudio RUN_FOLDER`` from the shell. Real window, real child
processes, tiny runs (the long timeouts are for a loaded machine, not expected waits)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowstudio.training.runs import Run, read_metrics
from tests.gui.conftest import TINY_POINTS, wait_idle

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "samples" / "pointclouds" / "shapes.npz"


def start_cli_run(out: Path) -> subprocess.Popen[bytes]:
    """A PointFlow run trained by the CLI in a folder of its own (as if synced from a server)."""
    values = {**TINY_POINTS, "validate_every": 2, "checkpoint_every": 2, "iters": 100_000}
    sets = [arg for name, value in values.items() for arg in ("--set", f"{name}={value}")]
    return subprocess.Popen(
        [sys.executable, "-m", "flowstudio", "points", "train", "--data", str(SHAPES), "--out", str(out),
         "--device", "cpu", *sets],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )


def answer_dialog(text: str) -> None:
    """Press the button ``text`` of the message box about to open."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def press() -> None:
        box = QApplication.activeModalWidget()
        next(b for b in box.buttons() if b.text() == text).click()

    QTimer.singleShot(300, press)


def test_the_window_launches_a_trainer_process_leaves_it_running_and_stops_it(window, qtbot) -> None:
    ws = window.points
    ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData("process"))
    ws.params.set_values({**TINY_POINTS, "iters": 100_000, "checkpoint_every_s": 3600.0})
    ws.start_training()
    assert ws.child_training and ws.state == "running", ws.banner.text()
    qtbot.waitUntil(lambda: (ws.samples_received >= 1 and ws.last_progress is not None) or not ws.training,
                    timeout=300_000)
    assert ws.training, (ws.run_dir / "train.log").read_text()  # the child ended early: its log says why
    assert ws.chart.series["loss"].steps, "the child's curve reached the chart"
    assert ws.live_points is not None and ws.live_points.shape[0] == TINY_POINTS["samples_n"]
    child, run_dir = ws.folder_sessions[-1], ws.run_dir

    answer_dialog("Cancel")  # closing asks what to do with the child
    assert not window.ask_about_children() and ws.child_training
    answer_dialog("Leave it running")
    assert window.ask_about_children()
    assert child.detached and not ws.training and child.process.poll() is None  # it trains on

    ws.run.ended()  # the window that let it go is gone, as far as this run is concerned
    window.open_path(run_dir)  # a new window would find it running and follow it
    assert ws.follows_only and ws.state == "running"
    ws.stop_training()  # through the run folder: the child stops after its step
    assert child.process.wait(300) == 0
    wait_idle(qtbot, ws, timeout=300_000)
    assert ws.run.state.value == "finished"
    last = read_metrics(run_dir)[-1]
    assert last["event"] == "finished" and last["reason"] == "stopped"
    assert Run(run_dir).latest.is_file() and (run_dir / "train.log").is_file()


def test_the_runs_panel_follows_a_cli_run_live_stops_it_and_reopens_it(window, qtbot, tmp_path) -> None:
    cli_run = tmp_path / "server" / "chairs-cli"
    process = start_cli_run(cli_run)
    try:
        qtbot.waitUntil(lambda: any("losses" in r for r in read_metrics(cli_run)), timeout=300_000)
        panel = window.runs_panel
        panel.add_folder(cli_run.parent)
        qtbot.waitUntil(lambda: any(row.path == cli_run for row in panel.rows), timeout=30_000)
        index = next(i for i, row in enumerate(panel.rows) if row.path == cli_run)
        cells = [panel.table.item(index, j).text() for j in range(panel.table.columnCount())]
        assert cells[:4] == ["chairs-cli", "Point clouds", "pointflow", "shapes.npz"]
        assert cells[6] == "running"

        window.tabs.setCurrentWidget(window.molecules)
        panel.table.cellClicked.emit(index, 0)  # opens it where it belongs, following it live
        ws = window.points
        assert window.current is ws and ws.run_dir == cli_run and ws.follows_only and ws.state == "running"
        first = ws.chart.series["loss"].steps[-1] if "loss" in ws.chart.series else 0
        qtbot.waitUntil(lambda: "loss" in ws.chart.series and ws.chart.series["loss"].steps[-1] > first
                        and ws.live_points is not None, timeout=300_000)
        ws.stop_training()  # the control file reaches the other process
        assert process.wait(300) == 0
        wait_idle(qtbot, ws, timeout=300_000)
        assert ws.run.state.value == "finished" and ws.model is not None
    finally:
        if process.poll() is None:
            process.kill()
    assert read_metrics(cli_run)[-1]["reason"] == "stopped"
    panel.refresh()
    qtbot.waitUntil(lambda: [r.status for r in panel.rows if r.path == cli_run] == ["stopped"],
                    timeout=30_000)
    assert window.settings.value("runs/last") == str(cli_run)

    qtbot.waitUntil(lambda: ws.samples_page.sampled is not None, timeout=300_000)
    ws.tabs.setCurrentWidget(ws.slice_page)
    ws.slice_resolution.setValue(16)
    qtbot.waitUntil(lambda: ws.slice_view._image is not None and not ws.jobs.busy, timeout=300_000)

    window.open_path(cli_run)  # what `flowstudio RUN_FOLDER` does once the window is up: a finished run
    qtbot.waitUntil(lambda: ws.run_dir == cli_run and not ws.jobs.busy, timeout=300_000)
    assert ws.state == "idle" and ws.continue_box.isVisible() and ws.chart.series["loss"].steps


def test_flowstudio_run_folder_exits_2_on_a_path_that_is_not_a_run(tmp_path) -> None:
    broken = tmp_path / "broken-run"
    (broken / "checkpoints").mkdir(parents=True)
    for target in (tmp_path / "absent-run", broken):
        done = subprocess.run([sys.executable, "-m", "flowstudio", str(target)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and str(target) in done.stderr
