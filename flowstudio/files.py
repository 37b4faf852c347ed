"""File modes shared by every writer (a leaf module, like :mod:`flowstudio.errors`).

Writers create a temporary file beside the target and rename it into place, so a crash
never leaves half a file. :func:`tempfile.mkstemp` creates that file owner-only (0600),
which would make every export, run file and checkpoint private even where the user's
umask asks for ordinary, group/world-readable files; :func:`give_ordinary_mode` restores
the mode ``open()`` would have given (0666 less the umask).
"""

from __future__ import annotations

import os
import threading

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
