"""Plain data the workbench hands to the views: a built-in sample, a loaded data set's
summary, a molecule tile, an export's result. No Qt, no engine objects beyond ``data``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sample:
    """A built-in data set for the Samples menu."""

    key: str
    title: str
    path: Path
    description: str = ""


@dataclass
class DataInfo:
    """What the data panel shows about a loaded data set, plus the engine's own object.

    ``skipped`` holds the first reasons of the reader's skip report, ``skipped_count`` all
    the records it skipped."""

    name: str
    source: Path | None
    rows: list[tuple[str, str]]
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    data: Any = None


@dataclass
class MoleculeEntry:
    """One tile of a grid: the SMILES (``None`` for a failed decode) and what to show under it."""

    smiles: str | None
    title: str = ""
    properties: dict[str, float] = field(default_factory=dict)
    badges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the file to report, and a note for the log (or ``""``)."""

    path: Path
    note: str = ""
    level: str = "info"
