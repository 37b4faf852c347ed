"""Training from the command line: the engine's events drawn as a progress bar on stderr.

``points train`` and ``mols train`` build their task and call :func:`run_training`. On a
terminal a tqdm bar shows the step, the loss terms, the learning rate, NFE and the ETA;
elsewhere (a log file, CI) one plain line is printed every ``plain_every_s`` seconds.
Messages, rollbacks and checkpoints are printed as lines above the bar.

Ctrl-C (``SIGINT``) or ``SIGTERM`` (a window closing, a cluster's scheduler) asks the run to
stop after the current step, so the final checkpoint is written (exit code 130); a second
one aborts at once. A window pauses, resumes and stops the run through the run folder's
control file (:mod:`flowstudio.training.remote`), which a thread here applies. Exit codes
otherwise follow the CLI: 0 when the budget was used up, 1 when the run ended in an error,
2 for bad input.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from flowstudio.cli import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK
from flowstudio.durations import format_duration
from flowstudio.errors import BadInputError
from flowstudio.training import (
    Checkpointed,
    Control,
    Event,
    Finished,
    Message,
    Progress,
    Recovered,
    Task,
    TrainOptions,
    train,
)
from flowstudio.training.remote import ControlFileWatcher

EXIT_INTERRUPTED = 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def format_losses(losses: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.4g}" for name, value in losses.items())


def format_nfe(progress: Progress) -> str:
    if progress.nfe_forward is None and progress.nfe_backward is None:
        return ""
    parts = [f"{v:.0f}" if v is not None else "-" for v in (progress.nfe_forward, progress.nfe_backward)]
    return f"nfe {'/'.join(parts)}"


def format_progress(progress: Progress) -> str:
    """One line: ``step 120/1000  loss 1.234 nll 1.2  lr 0.001  nfe 38/52  9.8 it/s  ETA 1:32``."""
    total = f"/{progress.total_steps}" if progress.total_steps is not None else ""
    parts = [f"step {progress.step}{total}", format_losses(progress.losses), f"lr {progress.lr:.3g}",
             format_nfe(progress), f"{progress.steps_per_s:.3g} it/s",
             f"ETA {format_duration(progress.eta_s)}"]
    return "  ".join(part for part in parts if part)


class ProgressPrinter:
    """Renders events: a live bar on a terminal, plain throttled lines elsewhere."""

    def __init__(self, stream: TextIO, total: int | None, live: bool | None = None,
                 plain_every_s: float = 10.0) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.plain_every_s = plain_every_s
        self.last_plain = -float("inf")
        self.last_progress: Progress | None = None
        self.printed: Progress | None = None
        self.bar: Any = None
        if self.live:
            self.bar = tqdm(total=total, file=stream, unit="step", dynamic_ncols=True, leave=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
                            if total else "{n_fmt} steps [{elapsed}{postfix}]")

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def handle(self, event: Event) -> None:
        if isinstance(event, Progress):
            self.last_progress = event
            if self.bar is not None:
                self.bar.n = event.step
                postfix = [format_losses(event.losses), f"lr {event.lr:.3g}", format_nfe(event),
                           f"{event.steps_per_s:.3g} it/s", f"ETA {format_duration(event.eta_s)}"]
                self.bar.set_postfix_str("  ".join(p for p in postfix if p), refresh=True)
            elif time.monotonic() - self.last_plain >= self.plain_every_s:
                self.last_plain, self.printed = time.monotonic(), event
                self.line(format_progress(event))
        elif isinstance(event, Message):
            prefix = "" if event.level == "info" else f"{event.level}: "
            self.line(f"{prefix}{event.text}")
        elif isinstance(event, Recovered):
            self.line(f"warning: step {event.step}: {event.reason}; "
                      f"learning rate lowered to {event.new_lr:.3g}")
        elif isinstance(event, Checkpointed):
            what = "best checkpoint" if event.best else "checkpoint"
            metric = f" (validation {event.metric:.4g})" if event.metric is not None else ""
            self.line(f"{what} at step {event.step}: {event.path}{metric}")
        elif isinstance(event, Finished):
            self.finish(event)

    def finish(self, event: Finished) -> None:
        if self.bar is not None:
            self.bar.n = event.step
            self.bar.refresh()
            self.close()
        elif self.last_progress is not None and self.printed is not self.last_progress:
            self.line(format_progress(self.last_progress))
        best = f"; best validation {event.best_metric:.4g}" if event.best_metric is not None else ""
        if event.reason == "error":
            self.line(f"error: training failed at step {event.step}: {event.error}")
            self.line(f"the last good checkpoint is in {Path(event.run_dir) / 'checkpoints'}")
        else:
            self.line(f"finished ({event.reason}) at step {event.step}{best}; run folder: {event.run_dir}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_training(task: Task, run_dir: str | Path, options: TrainOptions, *, stream: TextIO | None = None,
                 control: Control | None = None, live: bool | None = None) -> int:
    """Train with a progress display on ``stream`` (stderr) and return the exit code."""
    stream = sys.stderr if stream is None else stream
    control = control or Control()
    interrupts = 0

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            raise KeyboardInterrupt
        control.stop()
        stream.write("\nstopping after this step and saving a checkpoint (Ctrl-C again to abort)\n")

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_sigint) for sig in STOP_SIGNALS} if in_main else {}
    watcher = ControlFileWatcher(run_dir, control).start()
    printer = ProgressPrinter(stream, options.iters, live=live)
    finished: Finished | None = None
    try:
        for event in train(task, run_dir, options, control):
            printer.handle(event)
            if isinstance(event, Finished):
                finished = event
    except BadInputError as exc:
        printer.close()
        stream.write(f"flowstudio: error: {' '.join(str(exc).split())}\n")
        return EXIT_BAD_INPUT
    finally:
        printer.close()
        watcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if finished is None or finished.reason == "error":
        return EXIT_ERROR
    if finished.reason == "stopped" and interrupts:
        return EXIT_INTERRUPTED
    return EXIT_OK
