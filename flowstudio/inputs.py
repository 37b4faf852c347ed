"""What every reader of user files shares: refusing what is not a regular file, and
accounting for the records it skipped.

A reader never drops a record silently: each bad record it passes over goes into a
:class:`SkipReport` (a count and the first reasons), which the CLI prints in its data
line, the window shows in its data panel and the engine records in the run's
``config.json``; ``strict`` turns any skip into a refusal of the whole file.

Opening a named pipe, a terminal or a device for reading blocks until someone writes to
it (the window froze at "Loading…" on a FIFO called ``fifo.txt``), so readers check
:func:`require_regular_file` before they open anything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError

MAX_REASONS_KEPT = 20
"""Skipped records that keep their reason; the count covers all of them."""


def require_regular_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a :class:`Path` when it is a regular file (following links), else
    :class:`BadInputError` naming it: missing, a folder, or a pipe, socket or device,
    which are refused before anything opens them (opening a FIFO blocks)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise BadInputError(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )
        raise BadInputError(f"{path}: is {kind}, not a regular {what}; save the data to a file first")
    return path


@dataclass
class SkipReport:
    """The records a reader skipped: how many, and ``where: why`` for the first
    :data:`MAX_REASONS_KEPT` of them."""

    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.reasons) < MAX_REASONS_KEPT:
            self.reasons.append(f"{where}: {reason}" if where else reason)

    def extend(self, other: SkipReport) -> None:
        """Add ``other``'s records after this report's."""
        self.count += other.count
        self.reasons.extend(other.reasons[: max(0, MAX_REASONS_KEPT - len(self.reasons))])

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self, first: int = 2) -> str:
        """``"10 skipped (first: line 3: …; line 7: …)"``, or ``"0 skipped"``."""
        if not self.count:
            return "0 skipped"
        shown = "; ".join(self.reasons[:first])
        return f"{self.count} skipped (first: {shown})" if shown else f"{self.count} skipped"

    def to_json(self) -> dict[str, Any]:
        """What a run's ``config.json`` records under ``data_skipped``."""
        return {"count": self.count, "first_reasons": list(self.reasons)}

    def refuse_if_strict(self, source: str | os.PathLike[str], strict: bool) -> None:
        """Raise :class:`BadInputError` when ``strict`` and anything was skipped."""
        if strict and self.count:
            raise BadInputError(
                f"{source}: {self.count} bad record{'s' if self.count > 1 else ''} (--strict refuses "
                f"a file with any): first: {'; '.join(self.reasons[:2])}"
            )
