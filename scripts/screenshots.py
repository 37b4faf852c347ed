"""Save a PNG of every view of the FlowStudio window into ``docs/screenshots/``.

Drives the real window the way a user does: it opens on the built-in samples, trains a
small PointFlow and a small GraphAF for a while, then visits each view. Run it under an X
server (``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py``).
Give ``--points-checkpoint`` / ``--molecules-checkpoint`` to explore trained models (the
demo models in ``samples/models/``, say) after the short runs, which then only show the
Training tab (its loss chart split into one pane per term).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POINTS_SMALL = {
    "latent_dim": 16,
    "encoder_hidden": "32-64",
    "prior_hidden": "32",
    "point_hidden": "32-32",
    "batch_size": 8,
    "train_points": 256,
    "snapshot_points": 1024,
    "val_shapes": 4,
    "samples_every_s": 2.0,
    "log_every": 1,
    "validate_every": 50,
}
MOLECULES_SMALL = {
    "hidden": 32,
    "rgcn_layers": 2,
    "flow_layers": 2,
    "st_hidden": 32,
    "batch_size": 32,
    "max_molecules": 5000,
    "samples_every_s": 3.0,
    "samples_n": 12,
    "log_every": 1,
    "validate_every": 50,
    "max_validation": 64,
    "minutes": 0.0,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--train-seconds", type=float, default=60.0, help="length of each training run")
    parser.add_argument("--points-checkpoint", type=Path)
    parser.add_argument("--molecules-checkpoint", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="flowstudio-shots-"))
    os.environ.setdefault("FLOWSTUDIO_CONFIG_DIR", str(scratch / "config"))
    os.environ.setdefault("FLOWSTUDIO_RUNS_DIR", str(scratch / "runs"))

    from PySide6.QtCore import QEventLoop

    from flowstudio.gui.app import create_app, create_window

    app = create_app([])
    window = create_window(load_samples=False)
    window.confirm_close = lambda: True
    window.resize(1500, 940)

    def wait(condition, timeout: float = 120.0, settle: float = 0.4) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        end = time.monotonic() + settle
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def shot(name: str) -> None:
        path = args.out / f"{name}.png"
        window.grab().save(str(path), "PNG")
        print(f"saved {path}")

    def show(ws, page) -> None:
        window.tabs.setCurrentWidget(ws)
        ws.tabs.setCurrentWidget(page)

    def train(ws, overrides: dict, checkpoint: Path | None, first_view) -> None:
        ws.chart.panes_button.setChecked(True)
        ws.chart.smooth_button.setChecked(True)
        ws.params.set_values(overrides)
        ws.start_training()
        wait(lambda: ws.samples_received >= 1, timeout=300)
        started = time.monotonic()
        wait(lambda: time.monotonic() - started > args.train_seconds, timeout=args.train_seconds + 60)
        shot(first_view)
        ws.stop_training()
        wait(lambda: ws.state == "idle" and ws.model is not None and not ws.jobs.busy, timeout=300)
        if checkpoint is not None:
            model = ws.model
            window.open_checkpoint(checkpoint)
            wait(lambda: ws.model is not model and not ws.jobs.busy)

    window.populate()
    points, molecules = window.points, window.molecules
    wait(lambda: points.data is not None and points.preview.draw_count > 0)
    shot("points-data")
    train(points, POINTS_SMALL, args.points_checkpoint, "points-training")

    show(points, points.samples_view.parentWidget())
    points.color_by_logp.setChecked(True)
    wait(lambda: points.samples_view.draw_count > 0 and not points.jobs.busy, settle=1.0)
    shot("points-samples-loglik")
    show(points, points.interp_view.parentWidget())
    wait(lambda: not points.jobs.busy, settle=1.0)
    shot("points-interpolation")
    show(points, points.slice_page)  # the slice view's parent is the page's splitter, not a tab
    wait(lambda: points.slice_view._image is not None and not points.jobs.busy, settle=1.0)
    shot("points-density-slice")
    show(points, points.traj_view.parentWidget())
    wait(lambda: points.trajectory_page.frames is not None and not points.jobs.busy)
    points.trajectory_page.time.set_value(0.5)
    wait(lambda: True, settle=1.0)
    shot("points-trajectory")
    show(points, points.recon_view.parentWidget())
    wait(lambda: not points.jobs.busy, settle=1.0)
    shot("points-reconstruction")
    show(points, points.metrics_page)
    points.metrics_page.refresh()
    wait(lambda: points.metrics_page.evaluation is not None, timeout=600, settle=0.5)
    shot("points-metrics")

    window.tabs.setCurrentWidget(molecules)
    molecules.load_sample(molecules.sample_combo.itemData(0))
    wait(lambda: molecules.data is not None, timeout=300, settle=1.0)
    shot("molecules-data")
    train(molecules, MOLECULES_SMALL, args.molecules_checkpoint, "molecules-training")
    show(molecules, molecules.sample_grid.parentWidget())
    wait(lambda: molecules.generated is not None and not molecules.jobs.busy, timeout=300, settle=1.0)
    shot("molecules-samples")
    show(molecules, molecules.interp_grid.parentWidget())
    molecules.interpolate()
    wait(lambda: molecules.interp_grid.entries and not molecules.jobs.busy, timeout=300, settle=1.0)
    shot("molecules-interpolation")
    molecules.show_3d(molecules.data.data["set"].smiles[0])
    wait(lambda: molecules.view3d.draw_count > 0 and not molecules.io_jobs.busy, settle=1.0)
    shot("molecules-3d")
    show(molecules, molecules.metrics_page)
    molecules.metrics_page.count.setValue(200)
    molecules.evaluate()
    wait(lambda: not molecules.jobs.busy, timeout=600, settle=0.5)
    shot("molecules-metrics")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
