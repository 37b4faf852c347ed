"""How long something took or will take, as the CLI's progress line and the window's run
bar both write it: ``42`` seconds is ``0:42``, ``1:05``, ``1:02:05``; unknown is ``?``."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above; ``?`` for ``None`` or NaN."""
    if seconds is None or seconds != seconds:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
