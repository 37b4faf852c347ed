"""The window's longest event-loop stall while a run trains and the metrics worker computes
(issue 15's goal: < 100 ms), and where each long stall was spent.

One window (the demo PointFlow opened at start, the default sample loaded) is measured in
three conditions, each for ``--seconds``:

* ``idle``: nothing running (the baseline: this machine's own scheduling noise);
* ``metrics``: the Metrics page computing MMD / COV / 1-NNA of the demo model against the
  held-out shapes on the model thread (restarted whenever it finishes);
* ``training + metrics``: the same while a tiny PointFlow trains in a child process the
  window follows (its live chart and samples redrawing on the Training tab shown).

A 10 ms QTimer records the gaps between its ticks (as ``ui_responsiveness.py`` does). Each
tick also re-arms :func:`faulthandler.dump_traceback_later`: when the GUI thread does not
tick for ``--watch-ms``, a C watchdog thread (it needs no GIL) writes every thread's stack,
so each long stall is attributed to the code the GUI thread was running (or waiting in).

    flock /tmp/flowstudio-bench.lock xvfb-run -a -s "-screen 0 1600x1000x24" \\
        .venv/bin/python benchmarks/ui_stalls_metrics.py

Writes ``benchmarks/results/gui_stalls_metrics.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ui_responsiveness import STALL_OVERRIDES, bench_window, machine  # noqa: E402


def main_thread_stacks(dump: str) -> list[str]:
    """The GUI thread's innermost frames in each faulthandler dump of ``dump`` (a file's text)."""
    ident = f"{threading.main_thread().ident:#018x}"
    stacks = []
    for one in dump.split("Timeout (")[1:]:
        block = re.search(rf"Thread {ident}[^\n]*\n((?:  File [^\n]*\n)+)", one + "\n")
        if not block:  # faulthandler names the dumping thread "Current thread" only when it holds it
            continue
        frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block.group(1))
        stacks.append(" < ".join(f"{Path(f).name}:{line} {fn}" for f, line, fn in frames[:4]))
    return stacks


def measure(
    seconds: float, watch_ms: float, child_nices: list[int]
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    from PySide6.QtCore import QEventLoop, QTimer

    app, window, pump = bench_window()
    ws = window.points
    pump(lambda: ws.data is not None and ws.model is not None and ws.preview.draw_count > 0, 180)
    if ws.model is None:
        raise SystemExit("the demo PointFlow did not open (samples/models/points-pointflow)")
    page = ws.metrics_page
    gaps: list[float] = []
    last = [time.monotonic()]
    dump = tempfile.TemporaryFile("w+")  # noqa: SIM115 (read back after each condition)

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now
        faulthandler.dump_traceback_later(watch_ms / 1000, file=dump)

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    evaluations = [0]

    def keep_evaluating() -> None:
        if page.evaluate_button.isEnabled():  # the last evaluation ended: start the next
            page.refresh()
            evaluations[0] += 1

    def record(duration: float, metrics: bool) -> tuple[dict[str, float], list[str]]:
        gaps.clear()
        dump.seek(0)
        dump.truncate()
        evaluations[0] = 0
        last[0] = time.monotonic()
        timer.start()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            if metrics:
                keep_evaluating()
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        timer.stop()
        faulthandler.cancel_dump_traceback_later()
        pump(lambda: page.evaluate_button.isEnabled(), 300)  # the last evaluation ends off the clock
        ordered = sorted(gaps)
        dump.flush()
        dump.seek(0)
        return {
            "ticks": len(gaps),
            "max_ms": 1000 * ordered[-1],
            "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
            "mean_ms": 1000 * sum(gaps) / len(gaps),
            "over_100": sum(g >= 0.1 for g in gaps),
            "evaluations": evaluations[0],
        }, main_thread_stacks(dump.read())

    results, stacks = {}, {}
    ws.tabs.setCurrentWidget(ws.training_tab)
    results["idle"], stacks["idle"] = record(seconds, metrics=False)
    ws.tabs.setCurrentWidget(page)
    results["metrics"], stacks["metrics"] = record(seconds, metrics=True)
    ws.model_combo.setCurrentText("pointflow")
    ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData("process"))
    for nice in child_nices:
        ws.continue_box.setChecked(False)  # a new run each time
        ws.params.set_values(STALL_OVERRIDES)
        ws.start_training()  # shows the Training tab
        current = os.getpriority(os.PRIO_PROCESS, ws.session.process.pid)
        if nice != current:  # at once: the trainer's threads are made later and inherit it
            os.setpriority(os.PRIO_PROCESS, ws.session.process.pid, nice)
        pump(lambda: ws.samples_received >= 1, 300)
        name = f"training (trainer at nice {nice}) + metrics"
        results[name], stacks[name] = record(seconds, metrics=True)
        ws.stop_training()
        pump(lambda: ws.state == "idle", 120)
    window.close()
    dump.close()
    return results, stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="time each condition is watched")
    parser.add_argument("--watch-ms", type=float, default=80.0, help="a stall this long dumps the stacks")
    parser.add_argument(
        "--child-nice",
        type=int,
        nargs="+",
        default=[0],
        help="the trainer child's nice value, one training condition each",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gui_stalls_metrics.md")
    args = parser.parse_args(argv)
    where = machine()
    results, stacks = measure(args.seconds, args.watch_ms, args.child_nice)
    lines = [
        "# The window's stalls while training and computing metrics (issue 15)",
        "",
        f"`benchmarks/ui_stalls_metrics.py --seconds {args.seconds:g}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {where}, load average "
        f"{os.getloadavg()[0]:.1f} at the end; the machine is shared.",
        "",
        "| condition | longest gap | p99 gap | mean gap | gaps >= 100 ms | ticks | evaluations started |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['max_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['mean_ms']:.1f} ms | "
            f"{r['over_100']} | {r['ticks']} | {r['evaluations']} |"
        )
    lines += [
        "",
        f"Where the GUI thread was when it had not ticked for {args.watch_ms:g} ms (its innermost frames):",
        "",
    ]
    for name, found in stacks.items():
        counted = collections.Counter(found).most_common(6)
        lines.append(f"- {name}: {len(found)} stall(s)" + ("" if found else "."))
        lines += [f"  - {n} x `{stack}`" for stack, n in counted]
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
