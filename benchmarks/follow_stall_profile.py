"""Where the window's event-loop stalls come from while it follows a child-process run.

``benchmarks/ui_responsiveness.py --follow-only`` measures the gaps of a 10 ms timer; this
script explains the long ones. The same window (the Training tab, the same tiny PointFlow)
is watched idle and while following a child trainer, and every gap over ``--stall-ms``
is attributed:

* a C watchdog thread (``faulthandler.dump_traceback_later``, re-armed at every tick: it
  needs no GIL) dumps the main thread's Python stack once a gap passes the threshold, so
  a stall inside a C call (a VTK render, a Qt paint) still names the Python line that
  made it;
* ``gc.callbacks`` time every collection of Python's cyclic garbage collector, so a gap
  that is a collection is known as one.

Run under an X server: ``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python
benchmarks/follow_stall_profile.py``; prints a report (``--out`` writes it too).
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ui_responsiveness import STALL_OVERRIDES, bench_window, machine  # noqa: E402


class StallRecorder:
    """A 10 ms timer's gaps, with a stack dump and the collections during each long one."""

    def __init__(self, stall_ms: float, dump_path: Path) -> None:
        self.stall_s = stall_ms / 1000
        self.dump = open(dump_path, "w+")  # noqa: SIM115 (faulthandler writes to its descriptor)
        self.gaps: list[tuple[float, float]] = []  # (when the gap ended, its length)
        self.collections: list[tuple[float, float, int]] = []  # (end, seconds, generation)
        self._gc_started = 0.0
        self.last = time.monotonic()
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        else:
            self.collections.append((time.monotonic(), now - self._gc_started, info["generation"]))

    def tick(self) -> None:
        now = time.monotonic()
        gap = now - self.last
        self.last = now
        self.gaps.append((now, gap))
        if gap >= self.stall_s:
            self.dump.write(f"\n=== STALL {gap * 1000:.0f} ms ended at {now:.3f}\n")
            self.dump.flush()
        faulthandler.dump_traceback_later(self.stall_s, file=self.dump)

    def reset(self) -> None:
        self.gaps.clear()
        self.collections.clear()
        self.last = time.monotonic()

    def close(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        gc.callbacks.remove(self._on_gc)


def where(dump_text: str) -> list[tuple[float, str]]:
    """For each stall in the dump file, its length and the main thread's innermost frames."""
    found = []
    blocks = dump_text.split("=== STALL ")
    pending = blocks[0]
    for block in blocks[1:]:
        header, _, rest = block.partition("\n")
        ms = float(header.split()[0])
        found.append((ms, _main_frames(pending)))
        pending = rest
    return found


def _main_frames(text: str, depth: int = 6) -> str:
    """The innermost ``depth`` frames of the main thread (the one running :func:`profile`)
    in a faulthandler dump (a block of frames per thread, most recent call first)."""
    for block in text.split("\n\n"):
        frames = [x.strip() for x in block.splitlines() if x.strip().startswith("File")]
        if any(frame.endswith(" in profile") for frame in frames):
            return " <- ".join(_short(f) for f in frames[:depth])
    return "(no dump: the stall ended before the watchdog fired)"


def _short(frame: str) -> str:
    # 'File "/path/to/x.py", line 12 in name' -> 'x.py:12 name'
    try:
        path, _, rest = frame[len('File "'):].partition('", line ')
        line, _, name = rest.partition(" in ")
        return f"{Path(path).name}:{line} {name}"
    except ValueError:
        return frame


def profile(seconds: float, stall_ms: float) -> list[str]:
    from PySide6.QtCore import QEventLoop, QTimer

    app, window, pump = bench_window()  # the follow benchmark's window, filled as the app fills it
    ws = window.points
    pump(lambda: ws.data is not None and ws.preview.draw_count > 0, 120)
    recorder = StallRecorder(stall_ms, Path(tempfile.mkdtemp(prefix="flowstudio-stalls-")) / "stacks.txt")
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(recorder.tick)
    report: list[str] = []

    def record(label: str, duration: float, marks: dict[str, float]) -> None:
        recorder.dump.seek(0)
        recorder.dump.truncate()
        recorder.reset()
        timer.start()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        timer.stop()
        faulthandler.cancel_dump_traceback_later()
        recorder.dump.flush()
        recorder.dump.seek(0)
        stacks = where(recorder.dump.read())
        gaps = sorted(g for _, g in recorder.gaps)
        long = [(t, g) for t, g in recorder.gaps if g >= recorder.stall_s]
        gc_ms = Counter()
        for _, s, gen in recorder.collections:
            gc_ms[gen] += 1000 * s
        report.append(f"## {label}: {len(gaps)} ticks, longest {1000 * gaps[-1]:.0f} ms, "
                      f"p99 {1000 * gaps[int(0.99 * (len(gaps) - 1))]:.0f} ms")
        report.append("")
        report.append("collections: " + ", ".join(
            f"gen {gen}: {sum(1 for *_, g in recorder.collections if g == gen)} taking {gc_ms[gen]:.0f} ms "
            f"(longest {1000 * max(s for _, s, g in recorder.collections if g == gen):.0f} ms)"
            for gen in sorted(gc_ms)))
        report.append("")
        for (ended, gap), (_, stack) in zip(long, stacks + [(0, "?")] * len(long), strict=False):
            in_gc = sum(s for t, s, _ in recorder.collections if ended - gap <= t <= ended)
            since = {name: ended - gap - t for name, t in marks.items()}
            when = ", ".join(f"{s:+.1f} s after {name}" for name, s in since.items())
            report.append(f"- {1000 * gap:.0f} ms ({when}; {1000 * in_gc:.0f} ms of it in gc): {stack}")
        report.append("")

    started = time.monotonic()
    record("idle window", min(10.0, seconds), {"recording": started})
    ws.model_box.where_combo.setCurrentIndex(ws.model_box.where_combo.findData("process"))
    ws.continue_box.setChecked(False)
    ws.params.set_values(STALL_OVERRIDES)
    launched = time.monotonic()
    ws.start_training()  # the child's start-up is inside this recording
    record("following a child, from its launch", seconds, {"launch": launched})
    record("following a child, later", seconds, {"launch": launched})
    ws.stop_training()
    pump(lambda: ws.state == "idle", 120)
    recorder.close()
    window.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--stall-ms", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = [f"# Event-loop stalls explained ({when}; {machine()})", ""]
    text = "\n".join(head + profile(args.seconds, args.stall_ms))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
