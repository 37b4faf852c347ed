"""Following a run through its folder: what a trainer in another process writes, read back
as the engine's own events, so the window draws a child process, a run started from a shell
or a folder synced from a GPU server exactly as it draws its own thread's run.

:class:`RunFollower` is polled (the window does it on a timer) and each
:meth:`~RunFollower.poll` reads only what changed since the last one:

- ``metrics.jsonl`` is tailed from the byte offset reached so far (never re-read whole); a
  torn last line waits for its end, and a file that shrank (``--resume`` truncates it to the
  checkpoint's step) is read again from the start with :attr:`~RunFollower.rewound` set. Its
  records become :class:`Progress`, :class:`Recovered` and, for the last one the engine
  writes, :class:`Finished`;
- ``samples.npz`` (:mod:`flowstudio.training.snapshots`) becomes :class:`Samples` when it
  was replaced;
- ``checkpoints/latest.pt`` and ``best.pt`` become :class:`Checkpointed` when rewritten.

A poll costs a few ``stat`` calls when nothing changed, and at most :data:`MAX_BYTES` of
log, so a long run opened late fills its chart over a few polls without a stall.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

MAX_BYTES = 1 << 20
"""Log bytes read by one poll at most."""


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class RunFollower:
    """Turns the changes of the run folder ``run_dir`` into engine events."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        from flowstudio.training.runs import Run

        self.run = Run(run_dir)
        self.offset = 0
        self._partial = b""
        self.rewound = False
        self.last_step = 0
        self.best_metric: float | None = None
        self.finished: Any = None  # the Finished event of the log's last record, once read
        self.total_steps: int | None = None
        self._first_time: float | None = None
        self._config_stamp: tuple[int, int] | None = None
        self._snapshot_stamp: tuple[int, int] | None = None
        self._checkpoint_stamps: dict[Path, tuple[int, int] | None] = {}

    def skip_existing(self) -> None:
        """Take what the folder holds now as seen: a resumed run's earlier sessions (the chart
        shows them already) must not replay, nor their ``finished`` record end the new one."""
        self._read_config()
        try:
            self.offset = self.run.metrics_path.stat().st_size
        except OSError:
            self.offset = 0
        self._snapshot_stamp = _stamp(self.run.snapshot_path)
        self._checkpoint_stamps = {path: _stamp(path) for path in (self.run.latest, self.run.best)}

    def poll(self) -> list[Any]:
        """The events of everything that changed since the last poll, in order."""
        self.rewound = False
        self._read_config()
        events = self._read_metrics()
        end = [events.pop()] if events and events[-1] is self.finished else []
        events += self._checkpoints()  # after the log: a best checkpoint's metric is read by now
        samples = self._snapshot()
        if samples is not None:
            events.append(samples)
        return events + end  # the run's end comes last

    # ------------------------------------------------------------------ config
    def _read_config(self) -> None:
        stamp = _stamp(self.run.config_path)
        if stamp is None or stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        try:
            options = json.loads(self.run.config_path.read_text(encoding="utf-8")).get("options", {})
            iters = options.get("iters")
        except (OSError, ValueError, AttributeError):
            return
        self.total_steps = int(iters) if isinstance(iters, int | float) and iters else None

    # ------------------------------------------------------------------ metrics.jsonl
    def _read_metrics(self) -> list[Any]:
        path = self.run.metrics_path
        try:
            size = path.stat().st_size
            if size < self.offset:  # rewritten shorter: a resume dropped the steps it retrains
                self.offset, self._partial, self.finished, self.best_metric = 0, b"", None, None
                self.rewound = True
            if size == self.offset:
                return []
            with open(path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(MAX_BYTES)
        except OSError:
            return []
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # b"" after a complete line, else a line still being written
        from flowstudio.training.runs import parse_records

        events = [self._event(record) for record in parse_records(lines)]
        return [event for event in events if event is not None]

    def _event(self, record: dict[str, Any]) -> Any:
        from flowstudio.training.events import Finished, Progress, Recovered

        step = int(record.get("step", self.last_step))
        self.last_step = max(step, 0)
        when = float(record.get("time", 0.0))
        if "losses" in record:
            self.finished = None  # the run goes on (resumed)
            if self._first_time is None:
                self._first_time = when
            rate = float(record.get("steps_per_s") or 0.0)
            left = None if self.total_steps is None or rate <= 0 else max(self.total_steps - step, 0) / rate
            return Progress(
                step=step, total_steps=self.total_steps, elapsed_s=max(when - self._first_time, 0.0),
                eta_s=left, steps_per_s=rate, losses={k: float(v) for k, v in record["losses"].items()},
                lr=float(record.get("lr") or 0.0), nfe_forward=record.get("nfe_forward"),
                nfe_backward=record.get("nfe_backward"),
            )
        if "validation" in record:
            metric = float(record["validation"])
            if math.isfinite(metric) and (self.best_metric is None or metric < self.best_metric):
                self.best_metric = metric
            return None
        if record.get("event") == "recovered":
            reason = str(record.get("reason", ""))
            return Recovered(step=step, reason=reason, new_lr=float(record.get("lr", 0.0)))
        if record.get("event") == "finished":
            reason = record.get("reason")
            self.finished = Finished(
                step, reason if reason in ("iterations", "minutes", "stopped") else "error", self.run.root,
                self.best_metric, error=record.get("error"),
            )
            return self.finished
        return None

    # ------------------------------------------------------------------ samples and checkpoints
    def _snapshot(self) -> Any:
        from flowstudio.training.snapshots import read_snapshot

        stamp = _stamp(self.run.snapshot_path)
        if stamp is None or stamp == self._snapshot_stamp:
            return None
        event = read_snapshot(self.run.snapshot_path)
        if event is not None:  # else being replaced: the next poll reads it
            self._snapshot_stamp = stamp
        return event

    def _checkpoints(self) -> list[Any]:
        from flowstudio.training.events import Checkpointed

        events = []
        for path in (self.run.latest, self.run.best):
            stamp = _stamp(path)
            if stamp is not None and stamp != self._checkpoint_stamps.get(path):
                best = path == self.run.best
                metric = self.best_metric if best else None
                events.append(Checkpointed(step=self.last_step, path=path, best=best, metric=metric))
            self._checkpoint_stamps[path] = stamp
        return events
