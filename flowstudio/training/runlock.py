"""One training per run folder: an operating-system lock on ``RUN/.lock``.

Two trainings pointed at one ``--out`` would interleave their ``metrics.jsonl`` records
and overwrite each other's ``config.json`` and checkpoints. The trainer holds an
exclusive, non-blocking lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a
file in the run folder for as long as it trains; a second trainer is refused at once.
The kernel drops the lock when the holding process ends, however it ends (``kill -9``
included), so a crashed run never leaves its folder locked: the ``.lock`` file stays, its
lock does not. Readers (sampling, the window following a run) never take it; the runs
panel asks :func:`lock_held` whether a run is training.

Under data-parallel training only rank 0 writes the run folder, so only rank 0 locks it.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowstudio.errors import BadInputError

LOCK_NAME = ".lock"

try:  # POSIX
    import fcntl

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBRLCK if shared else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def lock_held(root: Path) -> bool:
    """Whether a training holds the lock of the run folder ``root`` now (on this machine).

    A shared, non-blocking probe taken and dropped at once: it fails only while the
    exclusive lock is held. Without a ``.lock`` file, nothing ever trained there."""
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        if _try_lock(fd, shared=True):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


class RunLock:
    """The lock of the run folder ``root``; :meth:`acquire` it, :meth:`release` it (or let
    the process end)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`BadInputError` naming the holder's process id.

        ``OSError`` (a read-only or full folder) propagates for the caller to explain."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise BadInputError(
                f"run folder {self.root} is in use by another training (process {holder}); "
                "wait for it to end or stop it, or train into another --out folder"
            )
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the lock holds without the note of who holds it
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None
