"""A thread-safe stop/pause token shared by a training run and whoever drives it."""

from __future__ import annotations

import threading


class Control:
    """Stop, pause and resume a run from another thread (the GUI thread, a signal handler).

    The engine checks the token once per optimization step, so a stop takes effect within
    one step and is followed by a final checkpoint. A pause blocks the training thread on a
    :class:`threading.Event` (no busy-waiting) until :meth:`resume` or :meth:`stop`; under
    torchrun the ranks wait together and agree when to go on
    (:meth:`flowstudio.training.distributed.World.wait_while_paused`).
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def stop(self) -> None:
        """Ask the run to end after the current step; also releases a paused run."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Ask the run to block before its next step (a no-op once stopped)."""
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        """Let a paused run continue."""
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block until resumed or stopped; ``False`` if ``timeout`` ran out first."""
        return self._running.wait(timeout)
