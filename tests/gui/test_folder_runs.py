"""Runs outside the window's thread: a trainer child process the window launches and follows,
a run the CLI trained listed by the runs panel and reopened for the analysis pages, and
``flowstudio RUN_FOLDER`` from the shell. Real window, real child processes, tiny runs."""

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
CLI_ITERS = 4


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PointFlow run trained by the CLI in a folder of its own (as if synced from a server)."""
    out = tmp_path_factory.mktemp("server") / "chairs-cli"
    values = {**TINY_POINTS, "validate_every": 2, "samples_every_s": 0.0, "prior_refine_s": 0.0}
    sets = [arg for name, value in values.items() for arg in ("--set", f"{name}={value}")]
    subprocess.run(
        [sys.executable, "-m", "flowstudio", "points", "train", "--data", str(SHAPES), "--out", str(out),
         "--iters", str(CLI_ITERS), "--device", "cpu", *sets],
        check=True, timeout=600, capture_output=True, cwd=ROOT,
    )
    return out


def test_the_window_launches_a_trainer_process_follows_it_and_stops_it(window, qtbot) -> None:
    ws = window.points
    ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData("process"))
    ws.params.set_values({**TINY_POINTS, "iters": 100_000, "checkpoint_every_s": 3600.0})
    ws.start_training()
    assert ws.child_training and ws.state == "running", ws.banner.text()
    qtbot.waitUntil(lambda: ws.samples_received >= 1 and ws.last_progress is not None, timeout=120_000)
    assert ws.chart.series["loss"].steps, "the child's curve reached the chart"
    assert ws.live_points is not None and ws.live_points.shape[0] == TINY_POINTS["samples_n"]
    session = ws.folder_sessions[-1]
    assert session.process.poll() is None
    ws.stop_training()
    wait_idle(qtbot, ws, timeout=120_000)
    assert session.process.returncode == 0 and ws.run.state.value == "finished"
    assert session.finished_event is not None and session.finished_event.reason == "stopped"
    last = read_metrics(ws.run_dir)[-1]
    assert last["event"] == "finished" and last["reason"] == "stopped"
    assert Run(ws.run_dir).latest.is_file() and (ws.run_dir / "train.log").is_file()


def test_the_runs_panel_lists_a_cli_run_and_reopens_it_for_the_analysis_pages(window, qtbot, cli_run) -> None:
    panel = window.runs_panel
    panel.add_folder(cli_run.parent)
    qtbot.waitUntil(lambda: any(row.path == cli_run for row in panel.rows), timeout=30_000)
    index = next(i for i, row in enumerate(panel.rows) if row.path == cli_run)
    cells = [panel.table.item(index, j).text() for j in range(panel.table.columnCount())]
    assert cells[:5] == ["chairs-cli", "Point clouds", "pointflow", "shapes.npz", str(CLI_ITERS)]
    assert cells[6] == "finished" and cells[5] != "–"

    window.tabs.setCurrentWidget(window.molecules)
    panel.table.cellClicked.emit(index, 0)
    ws = window.points
    assert window.current is ws and ws.run_dir == cli_run
    qtbot.waitUntil(lambda: ws.model is not None and not ws.jobs.busy, timeout=60_000)
    assert ws.chart.series["loss"].steps[-1] == CLI_ITERS  # the whole curve, from the log
    assert ws.live_points is not None  # the run's last live samples
    assert ws.continue_box.isVisible()  # Train continues it
    assert window.settings.value("runs/last") == str(cli_run)
    qtbot.waitUntil(lambda: ws.samples_page.sampled is not None, timeout=60_000)
    ws.tabs.setCurrentWidget(ws.slice_page)
    ws.slice_resolution.setValue(16)
    qtbot.waitUntil(lambda: ws.slice_view._image is not None and not ws.jobs.busy, timeout=60_000)


def test_a_run_folder_opens_like_a_file_and_bad_ones_exit_2(window, qtbot, cli_run, tmp_path) -> None:
    window.open_path(cli_run)  # what `flowstudio RUN_FOLDER` does once the window is up
    ws = window.points
    qtbot.waitUntil(lambda: ws.model is not None and ws.run_dir == cli_run, timeout=60_000)

    broken = tmp_path / "broken-run"
    (broken / "checkpoints").mkdir(parents=True)
    for target in (tmp_path / "absent-run", broken):
        done = subprocess.run([sys.executable, "-m", "flowstudio", str(target)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and str(target) in done.stderr
