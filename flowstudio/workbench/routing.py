"""Which workspace a file belongs to: the point-cloud one, the molecule one, or (a
checkpoint) whichever is shown; a PNG is an image to show with its provenance.

The answer comes from the readers' registries: an extension the molecule registry owns
goes to molecules; a folder and every other file go to point clouds (their reader then says
what it cannot read). ``.txt`` is owned by both (SMILES a line, or x y z a line), so its
first line decides: numbers make it points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

FileKind = Literal["points", "molecules", "checkpoint", "image"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
IMAGE_SUFFIXES = (".png",)
"""Screenshots the window saves (with their provenance in text chunks)."""
SHARED_SUFFIX = ".txt"


def molecule_suffixes() -> set[str]:
    """Extensions that always mean a molecule file (``.txt`` excluded: it is shared)."""
    from flowstudio.molecules import io

    return {ext for fmt in io.formats() for ext in fmt.extensions} - {SHARED_SUFFIX}


def starts_with_numbers(path: Path) -> bool:
    """Whether the file's first non-blank line starts with a number (``x y z`` text).

    Only a regular file is looked into, and only its head: opening a named pipe blocks
    until something writes to it (the window froze on a FIFO called ``fifo.txt``), so a
    pipe or device goes on to a reader, which refuses it with its reason."""
    if not path.is_file():  # False for pipes, sockets and devices
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16).decode("utf-8", errors="replace")
        first = head.lstrip().splitlines()[0]
        float(first.replace(",", " ").split()[0])
    except (IndexError, ValueError, OSError):
        return False
    return True


def file_kind(path: str | Path) -> FileKind:
    """Where an opened or dropped ``path`` goes (see the module's docstring)."""
    path = Path(path)
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix  # x.smi.gz reads as .smi
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoint"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if path.is_dir():
        return "points"
    if suffix in molecule_suffixes():
        return "molecules"
    if suffix == SHARED_SUFFIX:
        return "points" if starts_with_numbers(path) else "molecules"
    return "points"
