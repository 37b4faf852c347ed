"""Background work for the window: a training run in a QThread and one-off analysis jobs.

The training engine is a plain generator of immutable events. :class:`TrainingWorker`
lives in its own :class:`QThread`, iterates the generator and relays each event as a Qt
signal (queued onto the GUI thread). Progress events are thinned to at most one per
``progress_interval_s`` (:func:`flowstudio.workbench.engines.thin_progress`) so a fast
CPU run cannot flood the event loop; everything else is relayed at once. Nothing here
touches a widget or a VTK object.

:class:`JobRunner` runs short computations (sampling at a new temperature, a density
slice, an interpolation, ...) one at a time on a worker thread; each job has a key and
only the result of the latest job per key is delivered, so dragging a slider never queues
a backlog of stale redraws. :class:`RateLimiter` coalesces redraw requests on the GUI side.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, QTimer, Signal, Slot

from flowstudio.errors import BadInputError
from flowstudio.workbench import engines

GIL_SWITCH_INTERVAL_S = 0.0005


def lower_priority(niceness: int = 4) -> None:
    """Make the calling worker thread yield the CPU to the GUI thread.

    Qt's thread priorities do nothing on Linux (SCHED_OTHER), but a thread's nice value
    does: with every core busy training, the GUI thread still gets scheduled at once and
    can take the GIL when it needs it.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: no harm done
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class TrainingWorker(QObject):
    """Consumes the engine's event generator on the worker thread."""

    event = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(
        self,
        make_events: Callable[[Any], Iterator[Any]],
        control: Any,
        progress_interval_s: float = 0.05,
    ) -> None:
        super().__init__()
        self._make_events = make_events
        self.control = control
        self._interval = progress_interval_s

    @Slot()
    def run(self) -> None:
        lower_priority()
        try:
            for event in engines.thin_progress(self._make_events(self.control), self._interval):
                self.event.emit(event)
        except Exception as exc:  # any engine failure becomes a message, never a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}")
        finally:
            self.done.emit()


class TrainingSession(QObject):
    """Owns one run's thread and worker: start, pause, resume, stop and wait."""

    event = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, make_events: Callable[[Any], Iterator[Any]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.control = engines.new_control()
        self.thread = QThread()
        self.thread.setObjectName("FlowStudioTraining")
        self.worker = TrainingWorker(make_events, self.control)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.event.connect(self.event)
        self.worker.failed.connect(self.failed)
        # direct: the GUI thread may be blocked in wait() (closing the window) and could not
        # run a queued quit, so the thread would never end
        self.worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.ended)
        self.finished_event: Any = None  # the run's Finished event, once it came
        self.event.connect(self._remember_finish)

    def _remember_finish(self, event: object) -> None:
        if engines.is_finished(event):
            self.finished_event = event

    def start(self) -> None:
        # PySide releases the GIL around Qt calls, so every painter call on the GUI thread
        # must win the GIL back from the busy training thread: with Python's default 5 ms
        # switch interval a repaint of a few dozen calls could stall the window for 100+ ms.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.isRunning()

    @property
    def paused(self) -> bool:
        return self.control.paused

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Stop and block until the thread ended; ``True`` when it did."""
        self.control.stop()
        return self.thread.wait(timeout_ms) if self.thread.isRunning() else True


class _JobSignals(QObject):
    result = Signal(str, int, object)
    error = Signal(str, int, str)


class _Job(QRunnable):
    def __init__(self, key: str, serial: int, fn: Callable[[], Any], signals: _JobSignals) -> None:
        super().__init__()
        self.key, self.serial, self.fn, self.signals = key, serial, fn, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        lower_priority()
        try:
            result = self.fn()
        except BadInputError as exc:  # the user's input: its message says it all
            self.signals.error.emit(self.key, self.serial, str(exc))
        except Exception as exc:
            self.signals.error.emit(self.key, self.serial, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.result.emit(self.key, self.serial, result)


class JobRunner(QObject):
    """Runs callables off the GUI thread, one at a time, latest result per key wins."""

    busy_changed = Signal(bool)

    def __init__(self, on_error: Callable[[str, str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _JobSignals(self)
        self._signals.result.connect(self._deliver)
        self._signals.error.connect(self._fail)
        self._serial: dict[str, int] = {}
        self._callbacks: dict[str, Callable[[Any], None]] = {}
        self._pending = 0
        self._on_error = on_error

    def submit(self, key: str, fn: Callable[[], Any], on_result: Callable[[Any], None]) -> None:
        serial = self._serial.get(key, 0) + 1
        self._serial[key] = serial
        self._callbacks[key] = on_result
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self.pool.start(_Job(key, serial, fn, self._signals))

    def _settle(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)

    def _deliver(self, key: str, serial: int, result: Any) -> None:
        self._settle()
        if serial == self._serial.get(key):
            try:
                self._callbacks[key](result)
            except Exception as exc:  # a drawing bug becomes a message, not a lost traceback
                self._on_error(key, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")

    def _fail(self, key: str, serial: int, message: str) -> None:
        self._settle()
        if serial == self._serial.get(key):
            self._on_error(key, message)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def wait(self, timeout_ms: int = 30_000) -> bool:
        self.pool.clear()
        return self.pool.waitForDone(timeout_ms)


class RateLimiter(QObject):
    """Calls ``fn(payload)`` at most once per ``interval_ms``; the latest payload wins."""

    def __init__(self, interval_ms: int, fn: Callable[[Any], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self._pending: tuple[Any] | None = None

    def submit(self, payload: Any) -> None:
        if self._timer.isActive():
            self._pending = (payload,)
            return
        self._fn(payload)
        self._timer.start()

    def _flush(self) -> None:
        if self._pending is not None:
            (payload,), self._pending = self._pending, None
            self._fn(payload)
            self._timer.start()
