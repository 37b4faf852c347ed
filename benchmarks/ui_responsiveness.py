"""How responsive the FlowStudio window is: launch time and event-loop stalls while training.

* Launch: a fresh interpreter runs the app's start-up; we time (from process spawn) when the
  window is first shown and when the default sample is loaded and drawn, i.e. Train works.
* Stalls: with the window showing the Training tab (live chart and live samples redrawing),
  a 10 ms QTimer records the gaps between its ticks during training; the longest gap is the
  longest time the UI could not react. Goal: < 100 ms. The same is measured idle, as the
  baseline of this machine's scheduling noise, and for both places a run trains: in the
  window's thread, and in a trainer child process the window follows through its run folder
  (``--follow-only`` skips the launch times and writes ``results/gui_follow.md``).

Run under an X server:
``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/ui_responsiveness.py``
Writes ``benchmarks/results/gui.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAUNCH_PROBE = r"""
import json, sys, time
from PySide6.QtCore import QEventLoop
from flowstudio.gui.app import create_app, create_window
app = create_app([])
window = create_window()
marks = {}
while "ready" not in marks:
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    handle = window.windowHandle()
    if "shown" not in marks and handle is not None and handle.isExposed():
        marks["shown"] = time.time()
    if window.points.data is not None and window.points.preview.draw_count > 0:
        marks["ready"] = time.time()
window.confirm_close = lambda: True
window.close()
print(json.dumps(marks))
"""

# A tiny PointFlow: the stall test wants a steady stream of progress events and live-sample
# redraws (every half second), not a good model, even on a slow shared CPU.
STALL_OVERRIDES = {
    "latent_dim": 8,
    "encoder_hidden": "16-16",
    "prior_hidden": "16",
    "point_hidden": "16-16",
    "batch_size": 4,
    "train_points": 64,
    "snapshot_points": 1024,
    "val_shapes": 2,
    "steps": 1,
    "samples_every_s": 0.5,
    "samples_n": 4,
    "log_every": 1,
    "validate_every": 100000,
    "iters": 1000000,
}


def measure_launch(repeats: int) -> list[dict[str, float]]:
    results = []
    for _ in range(repeats):
        env = dict(os.environ)
        scratch = tempfile.mkdtemp(prefix="flowstudio-bench-")
        env.update(FLOWSTUDIO_CONFIG_DIR=f"{scratch}/config", FLOWSTUDIO_RUNS_DIR=f"{scratch}/runs")
        spawned = time.time()
        out = subprocess.run(
            [sys.executable, "-c", LAUNCH_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        marks = json.loads(out.stdout.strip().splitlines()[-1])
        results.append({k: v - spawned for k, v in marks.items()})
    return results


def bench_window() -> tuple[Any, Any, Callable[[Callable[[], bool], float], None]]:
    """The app and a populated window with settings and runs in a fresh scratch folder, and
    ``pump(condition, timeout)``, which runs the event loop until ``condition()`` holds."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as run_app() sets it
    scratch = tempfile.mkdtemp(prefix="flowstudio-bench-")
    os.environ.update(FLOWSTUDIO_CONFIG_DIR=f"{scratch}/config", FLOWSTUDIO_RUNS_DIR=f"{scratch}/runs")
    from PySide6.QtCore import QEventLoop

    from flowstudio.gui.app import create_app, create_window, freeze_startup_objects

    app = create_app([])
    window = create_window(load_samples=False)
    window.confirm_close = lambda: True
    window.populate()
    freeze_startup_objects()  # as the app does once its window is filled

    def pump(condition, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not condition() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    return app, window, pump


def measure_stalls(
    seconds: float, places: tuple[str, ...] = ("window", "process")
) -> dict[str, dict[str, float]]:
    from PySide6.QtCore import QEventLoop, QTimer

    app, window, pump = bench_window()
    ws = window.points
    pump(lambda: ws.data is not None and ws.preview.draw_count > 0, 120)
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)

    def record(duration: float) -> dict[str, float]:
        gaps.clear()
        last[0] = time.monotonic()
        timer.start()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        timer.stop()
        ordered = sorted(gaps)
        return {
            "ticks": len(gaps),
            "max_ms": 1000 * ordered[-1],
            "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
            "mean_ms": 1000 * sum(gaps) / len(gaps),
        }

    results = {"idle": record(min(10.0, seconds))}
    for place in places:  # "window": the window's training thread; "process": a followed child
        ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData(place))
        ws.continue_box.setChecked(False)  # a new run each time
        ws.params.set_values(STALL_OVERRIDES)
        ws.start_training()
        polls = time_polls(ws.session) if place == "process" else []
        pump(lambda: ws.samples_received >= 1, 300)
        polls.clear()

        def step() -> int:
            return ws.last_progress.step if ws.last_progress else 0

        steps_before, redraws_before = step(), ws.live_view.draw_count
        started = time.monotonic()
        training = record(seconds)
        training["steps_per_s"] = (step() - steps_before) / (time.monotonic() - started)
        training["live_redraws"] = ws.live_view.draw_count - redraws_before
        if polls:  # the window's own work per look at the run folder, drawing included
            ordered = sorted(polls)
            training["poll_median_ms"] = 1000 * ordered[len(ordered) // 2]
            training["poll_max_ms"] = 1000 * ordered[-1]
            training["polls"] = len(ordered)
        results[place] = training
        ws.stop_training()
        pump(lambda: ws.state == "idle", 120)
    window.close()
    return results


def follower_poll_cost(ticks: int = 400) -> str:
    """The Qt-free part of following a run, alone: :class:`RunFollower` reading a folder that
    gains 5 log records a tick (20 steps/s at the window's 250 ms) and a 4 x 1,024-point
    snapshot every second tick."""
    import numpy as np

    from flowstudio.training.events import Samples
    from flowstudio.training.runs import Run
    from flowstudio.workbench.follow import RunFollower

    run = Run(Path(tempfile.mkdtemp(prefix="flowstudio-bench-")) / "run")
    run.create()
    run.write_config({"kind": "points", "options": {"iters": 100000}})
    follower, costs, step = RunFollower(run.root), [], 0
    rng = np.random.default_rng(0)
    for tick in range(ticks):
        for _ in range(5):
            step += 1
            run.append_metrics({"step": step, "time": time.time(), "losses": {"loss": 1.0, "nll": 0.9},
                                "lr": 1e-3, "nfe_forward": 8.0, "nfe_backward": 8.0, "steps_per_s": 20.0})
        if tick % 2 == 0:
            points = rng.normal(size=(4, 1024, 3)).astype(np.float32)
            run.write_snapshot(Samples(step=step, kind="points", points=points))
        started = time.perf_counter()
        follower.poll()
        costs.append(time.perf_counter() - started)
    costs.sort()
    median, p99 = 1000 * costs[len(costs) // 2], 1000 * costs[int(0.99 * (len(costs) - 1))]
    return (f"The folder reading alone (`RunFollower.poll`, {ticks} ticks of 5 new log records and a "
            f"4 x 1,024-point snapshot every second tick, no drawing): median {median:.2f} ms, "
            f"p99 {p99:.2f} ms, max {1000 * costs[-1]:.1f} ms.")


def time_polls(session) -> list[float]:
    """Time every poll of a followed run's folder (the timer's slot, replaced by a timed one)."""
    seconds: list[float] = []
    poll = session.poll

    def timed() -> None:
        started = time.perf_counter()
        poll()
        seconds.append(time.perf_counter() - started)

    session.timer.timeout.disconnect()
    session.timer.timeout.connect(timed)
    return seconds


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at start, "
        f"Python {platform.python_version()}, display {os.environ.get('DISPLAY', '?')} "
        f"(QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM', 'default')})"
    )


PLACES = {
    "window": "training PointFlow in the window's thread, live chart + samples",
    "process": "training PointFlow in a child process, window following its run folder",
}


def stall_rows(stalls: dict[str, dict[str, float]]) -> list[str]:
    """The stall table and a line per training place."""
    i = stalls["idle"]
    lines = [
        "| condition | longest gap | p99 gap | mean gap | timer ticks |",
        "|---|---|---|---|---|",
        f"| idle window (baseline) | {i['max_ms']:.0f} ms | {i['p99_ms']:.0f} ms | {i['mean_ms']:.1f} ms "
        f"| {i['ticks']} |",
    ]
    notes = []
    for place, label in PLACES.items():
        if place not in stalls:
            continue
        t = stalls[place]
        lines.append(f"| {label} | {t['max_ms']:.0f} ms | {t['p99_ms']:.0f} ms | {t['mean_ms']:.1f} ms | "
                     f"{t['ticks']} |")
        if "polls" in t:
            notes.append(f"Following the child, the window's {t['polls']} polls of its run folder (new log "
                         f"lines, a replaced samples.npz, the chart and live samples they feed) took "
                         f"{t['poll_median_ms']:.1f} ms (median), {t['poll_max_ms']:.0f} ms at most.")
        verdict = "meets" if t["max_ms"] < 100 else "misses"
        notes.append(f"In the {place}, training ran at {t['steps_per_s']:.1f} steps/s with "
                     f"{t['live_redraws']} live-sample redraws; longest stall {t['max_ms']:.0f} ms "
                     f"({verdict} the < 100 ms goal, "
                     f"{t['max_ms'] / max(i['max_ms'], 1e-9):.1f}x the idle baseline).")
    return [*lines, "", *notes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training time to watch")
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--follow-only", action="store_true",
                        help="only the stalls, no launch times: idle, a run in the window's thread and a "
                        "followed child-process run, in one window")
    parser.add_argument("--out", type=Path, default=None,
                        help="default benchmarks/results/gui.md (gui_follow.md with --follow-only)")
    args = parser.parse_args(argv)
    name = "gui_follow.md" if args.follow_only else "gui.md"
    out = args.out or ROOT / "benchmarks" / "results" / name
    where = machine()
    launches = [] if args.follow_only else measure_launch(args.launches)
    stalls = measure_stalls(args.seconds)
    from PySide6 import __version__ as pyside

    lines = [
        "# GUI responsiveness",
        "",
        f"Measured by `benchmarks/ui_responsiveness.py{' --follow-only' if args.follow_only else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {where}; PySide6 {pyside}.",
        "",
    ]
    if launches:
        shown = sorted(r["shown"] for r in launches)
        ready = sorted(r["ready"] for r in launches)
        lines += [
            f"## Launch (from process spawn, median of {len(launches)})",
            "",
            "| milestone | median | all runs |",
            "|---|---|---|",
            f"| window shown | {shown[len(shown) // 2]:.2f} s | {', '.join(f'{x:.2f}' for x in shown)} |",
            f"| sample loaded and drawn (Train works) | {ready[len(ready) // 2]:.2f} s | "
            f"{', '.join(f'{x:.2f}' for x in ready)} |",
            "",
            "Goal: the window titled FlowStudio within 5 s.",
            "",
        ]
    lines += [
        f"## Event-loop stalls (10 ms timer, {args.seconds:.0f} s of training, Training tab shown)",
        "",
        *stall_rows(stalls),
        follower_poll_cost(),
        "",
        "How to read this: the idle row is the machine's own scheduling noise (other processes, "
        "Xvfb). A run in the window's thread adds the window's work on its event loop (progress events "
        "at most 20 per second, the loss chart's repaint, one live-sample redraw at most every 0.4 s, "
        "each a single render of one merged point set) and the GIL shared with the training thread, "
        "which runs at a lower priority (nice 4) on all cores but one, with a 0.5 ms GIL switch "
        "interval. A run in a child process shares no GIL with the window: the window polls the run "
        "folder every 250 ms (a few stat calls, the log's new lines, a replaced samples.npz) and draws "
        "the same chart and live samples. With software OpenGL (llvmpipe under Xvfb) one redraw of "
        "four 1,024-point clouds costs about 6 ms idle and 70 ms on a saturated CPU; on a GPU-backed "
        "display it is about a millisecond.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
