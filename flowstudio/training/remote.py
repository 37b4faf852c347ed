"""Pause, resume and stop a trainer process through its run folder: ``RUN/control``.

A window that launched ``flowstudio points|mols train`` as a child process (or follows one
started from a shell on the same machine) cannot reach the engine's in-memory
:class:`~flowstudio.training.control.Control`; it writes the command to a small file in the
run folder instead, and :class:`ControlFileWatcher`, a thread of the trainer, applies it to
the run's ``Control``. A file works across the layers torchrun puts between the window and
the ranks (every rank of one machine reads it), where a signal would reach torchrun's agent
only. Stop is also
reachable by ``SIGINT``/``SIGTERM`` (see :mod:`flowstudio.cli.progress`).

Under torchrun the ranks read the file each on their own clock; the engine agrees pause,
resume and stop between them (:meth:`flowstudio.training.distributed.World.agree`), so
they pause at the same step and a pause may outlast the process group's timeout.

The file holds one JSON object, ``{"command": "pause"|"resume"|"stop", "time": unix}``, and
is replaced atomically. A command older than the trainer is stale (left by an earlier session
of the run) and ignored: ``since`` is the trainer's start, or the launching window's clock
passed in ``FLOWSTUDIO_CONTROL_SINCE`` so that a Stop pressed while the child still imports
PyTorch is not lost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from flowstudio.files import atomic_write_text
from flowstudio.training.control import Control

CONTROL_NAME = "control"
COMMANDS = ("pause", "resume", "stop")
SINCE_ENV = "FLOWSTUDIO_CONTROL_SINCE"
POLL_S = 0.25


def send_command(run_dir: str | os.PathLike[str], command: str, now: float | None = None) -> None:
    """Ask the trainer of ``run_dir`` to ``pause``, ``resume`` or ``stop``."""
    if command not in COMMANDS:
        raise ValueError(f"unknown run command {command!r}; one of {', '.join(COMMANDS)}")
    path = Path(run_dir) / CONTROL_NAME
    atomic_write_text(path, json.dumps({"command": command, "time": time.time() if now is None else now}))


def read_command(run_dir: str | os.PathLike[str]) -> tuple[str, float] | None:
    """The last command written to ``run_dir`` and when; ``None`` when there is none."""
    try:
        data = json.loads((Path(run_dir) / CONTROL_NAME).read_text(encoding="utf-8"))
        command, when = data["command"], float(data["time"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return (command, when) if command in COMMANDS else None


def commands_since() -> float:
    """The time from which this trainer obeys commands (see the module's docstring)."""
    try:
        return float(os.environ[SINCE_ENV])
    except (KeyError, ValueError):
        return time.time()


class ControlFileWatcher:
    """A daemon thread applying ``RUN/control`` to ``control`` every ``interval_s``."""

    def __init__(self, run_dir: str | os.PathLike[str], control: Control, since: float | None = None,
                 interval_s: float = POLL_S) -> None:
        self.run_dir, self.control, self.interval_s = Path(run_dir), control, interval_s
        self.since = commands_since() if since is None else since
        self._applied: tuple[str, float] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="FlowStudioControlFile", daemon=True)

    def poll(self) -> str | None:
        """Apply a new command, if any; returns it."""
        found = read_command(self.run_dir)
        if found is None or found == self._applied or found[1] < self.since:
            return None
        self._applied = found
        getattr(self.control, found[0])()
        return found[0]

    def _watch(self) -> None:
        while not self._done.wait(self.interval_s):
            self.poll()

    def start(self) -> ControlFileWatcher:
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
