"""Writing files atomically, with one policy (a leaf module, like :mod:`flowstudio.errors`).

Every file FlowStudio writes (exports, run files, checkpoints) goes through
:func:`atomic_write`: a temporary file beside the target, flushed and ``fsync``-ed, given
ordinary permissions, renamed over the target with ``os.replace``, and the rename made
durable by syncing the folder. A crash or an error mid-write never leaves half a file, and
the previous file stays whole until the new one is complete; the temporary file is removed
on any failure. A process killed mid-write leaves ``.NAME.*.tmp``, which the next training
of a run folder removes (:meth:`flowstudio.training.runs.Run.stray_temp_files`).

:func:`tempfile.mkstemp` creates the temporary file owner-only (0600), which would make
every export, run file and checkpoint private even where the user's umask asks for
ordinary, group/world-readable files; :func:`give_ordinary_mode` restores the mode
``open()`` would have given (0666 less the umask).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_LOCK = threading.Lock()


def umask() -> int:
    """The process's umask (read by setting and restoring it, under a lock)."""
    with _LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def give_ordinary_mode(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode a plain ``open(path, "w")`` would have (0666 & ~umask)."""
    os.chmod(path, 0o666 & ~umask())


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream whose bytes become ``path`` when the block ends without an error.

    The folder must exist. An exception in the block (or a full disk, a read-only folder)
    removes the temporary file, leaves any previous ``path`` untouched and propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        give_ordinary_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as stream:
        view = memoryview(data)
        while view:  # a raw write may take fewer bytes than asked
            view = view[stream.write(view) :]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically (see :func:`atomic_write`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform opens folders)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
