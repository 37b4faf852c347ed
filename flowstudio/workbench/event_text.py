"""How a run's events read in the window: the progress bar's text, the line under it, and
the log lines and banners that checkpoints, recoveries, messages and the end of a run give.

Pure functions of the engine's immutable events, so the wording is tested without Qt; the
views only put the strings where they belong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowstudio.durations import format_duration

if TYPE_CHECKING:  # the training package imports torch: loaded once a run starts
    from flowstudio.training.events import Finished, Progress

PROGRESS_SCALE = 1000
"""The progress bar's range: 0 .. PROGRESS_SCALE."""

PAUSED_PREFIX = "paused · "

FINISH_REASONS = {
    "iterations": "reached its step budget",
    "minutes": "reached its time budget",
    "stopped": "was stopped",
    "error": "failed",
}


def format_rate(steps_per_s: float) -> str:
    """Steps per second, or seconds per step when a step takes longer than a second."""
    if steps_per_s >= 1 or steps_per_s <= 0:
        return f"{steps_per_s:.1f} it/s"
    return f"{1 / steps_per_s:.1f} s/it"


@dataclass(frozen=True)
class Notice:
    """One thing to tell the user: a log line (``log``, at ``level``) and/or a banner.

    ``banner_seconds`` ``None`` keeps the banner until dismissed (errors); a number hides it
    after that long (good news)."""

    log: str | None = None
    level: str = "info"
    banner: str | None = None
    banner_level: str = "error"
    banner_seconds: float | None = None


@dataclass(frozen=True)
class ProgressText:
    """The progress bar's value (``None``: leave it) and format, and the line beside it."""

    value: int | None
    format: str
    detail: str


def progress_text(event: Progress, paused: bool = False) -> ProgressText:
    """Steps done of the budget (or elapsed of the time budget), rate, times and loss."""
    value = None
    if event.total_steps:
        value = int(PROGRESS_SCALE * event.step / event.total_steps)
        text = f"step {event.step:,} / {event.total_steps:,}"
    else:
        text = f"step {event.step:,}"
        if event.eta_s is not None:  # a time budget: progress is elapsed time
            value = int(PROGRESS_SCALE * event.elapsed_s / max(1e-9, event.elapsed_s + event.eta_s))
    if paused:
        text = PAUSED_PREFIX + text
    loss = dict(event.losses).get("loss")
    detail = (
        f"{format_rate(event.steps_per_s)} · elapsed {format_duration(event.elapsed_s)} · "
        f"ETA {format_duration(event.eta_s)}" + (f" · loss {loss:.4g}" if loss is not None else "")
    )
    return ProgressText(value, text, detail)


def event_notices(event: object) -> list[Notice]:
    """The log lines and banners of a checkpoint, a recovery, a message or the run's end
    (progress and samples are drawn, not told: they give none)."""
    from flowstudio.training.events import Checkpointed, Finished, Message, Recovered

    if isinstance(event, Checkpointed):
        label = "best " if event.best else ""
        metric = f" (validation {event.metric:.4g})" if event.metric is not None else ""
        return [Notice(f"step {event.step}: {label}checkpoint {event.path.name}{metric}")]
    if isinstance(event, Recovered):
        return [
            Notice(
                f"step {event.step}: {event.reason}; rolled back, learning rate now {event.new_lr:.3g}",
                "warning",
            )
        ]
    if isinstance(event, Message):
        banner = event.text.splitlines()[0] if event.level == "error" else None
        return [Notice(event.text, event.level, banner)]
    if isinstance(event, Finished):
        return finished_notices(event)
    return []


def finished_notices(event: Finished) -> list[Notice]:
    """The run's end: a log line, and a banner saying whether the model is ready to explore."""
    reason = FINISH_REASONS.get(event.reason, event.reason)
    failed = event.reason == "error"
    notices = [Notice(f"run {reason} at step {event.step} ({event.run_dir})", "error" if failed else "info")]
    if failed and event.error:
        notices.append(Notice(banner=f"Training failed at step {event.step}: {event.error.splitlines()[0]}"))
    elif not failed:
        text = f"Training {reason} at step {event.step}; the model is ready to explore."
        notices.append(Notice(text, banner=text, banner_level="info", banner_seconds=6.0))
    return notices


def failure_notices(text: str) -> list[Notice]:
    """The run's thread died with ``text`` (a traceback): all of it logged, its first line shown."""
    return [Notice(text, "error", f"Training failed: {text.splitlines()[0]}")]
