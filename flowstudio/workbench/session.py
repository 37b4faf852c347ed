"""A workspace's training runs as a state machine, with their folders on disk.

::

    state      start      pause    resume     stop       ended (the run's thread is gone)
    idle       training   –        –          –          –
    training   –          paused   –          stopping   finished, or failed
    paused     –          –        training   stopping   finished, or failed
    stopping   –          –        –          –          finished, or failed
    finished   training   –        –          –          –
    failed     training   –        –          –          –

:class:`RunSession` knows nothing of threads or widgets: the window starts the engine's
generator on a thread, feeds every event to :meth:`RunSession.handle`, tells it when the
thread failed or ended, and subscribes to :meth:`RunSession.subscribe` to redraw its
buttons. A move the table does not have raises :class:`InvalidTransitionError`, so a
view can never show a state the run is not in.

Run folders follow :class:`flowstudio.training.runs.Run` (the engine's own layout): a new
run gets ``<runs>/<kind>-<model>-<YYYYmmdd-HHMMSS>`` (``~2``, ``~3``, … on a clash); a
continued run keeps its folder and the engine resumes from its latest checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the training package imports torch: loaded once a run starts
    from flowstudio.training.events import Finished, Progress


class RunState(Enum):
    """Where a workspace's run stands (see the module's table)."""

    IDLE = "idle"
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """A run is under way (its thread lives): the data and the form are locked."""
        return self in (RunState.TRAINING, RunState.PAUSED, RunState.STOPPING)

    @property
    def activity(self) -> str:
        """What the run controls show: ``idle``, ``running``, ``paused`` or ``stopping``."""
        if not self.active:
            return "idle"
        return "running" if self is RunState.TRAINING else self.value


TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.IDLE: frozenset({RunState.TRAINING}),
    RunState.TRAINING: frozenset({RunState.PAUSED, RunState.STOPPING, RunState.FINISHED, RunState.FAILED}),
    RunState.PAUSED: frozenset({RunState.TRAINING, RunState.STOPPING, RunState.FINISHED, RunState.FAILED}),
    RunState.STOPPING: frozenset({RunState.FINISHED, RunState.FAILED}),
    RunState.FINISHED: frozenset({RunState.TRAINING}),
    RunState.FAILED: frozenset({RunState.TRAINING}),
}


class InvalidTransitionError(RuntimeError):
    """A run was asked to move where the table has no entry."""


def new_run_dir(runs_root: Path, kind: str, model: str, now: float | None = None) -> Path:
    """A fresh folder name under ``runs_root`` for a run of ``model`` (not created)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    run_dir = runs_root / f"{kind}-{model}-{stamp}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = run_dir.with_name(f"{run_dir.name.split('~')[0]}~{suffix}")
    return run_dir


class RunSession:
    """The runs of one workspace (one at a time): state, folder, and what the events said."""

    def __init__(self, kind: str, runs_root: Callable[[], Path]) -> None:
        self.kind = kind
        self._runs_root = runs_root
        self.state = RunState.IDLE
        self.run_dir: Path | None = None
        self.latest_checkpoint: Path | None = None
        self.last_progress: Progress | None = None
        self.finished_event: Finished | None = None
        self.failure: str | None = None
        self.samples_received = 0
        self.resumed = False  # the current run continues the previous one's folder
        self._observers: list[Callable[[RunState], None]] = []

    # ------------------------------------------------------------------ observers
    def subscribe(self, callback: Callable[[RunState], None]) -> None:
        """Call ``callback(state)`` after every transition."""
        self._observers.append(callback)

    def _move(self, state: RunState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise InvalidTransitionError(f"a {self.state.value} run cannot become {state.value}")
        self.state = state
        for callback in list(self._observers):
            callback(state)

    # ------------------------------------------------------------------ questions
    @property
    def active(self) -> bool:
        return self.state.active

    def can(self, state: RunState) -> bool:
        """Whether the table allows a move from the current state to ``state``."""
        return state in TRANSITIONS[self.state]

    @property
    def resumable(self) -> bool:
        """The last run left a latest checkpoint the next one may continue from."""
        return self.run_dir is not None and self._run().latest.is_file()

    def best_checkpoint(self) -> Path | None:
        """The run's best checkpoint, else its latest, else the last one an event named."""
        if self.run_dir is None:
            return self.latest_checkpoint
        from flowstudio.errors import CheckpointError

        try:
            return self._run().checkpoint(prefer="best")
        except CheckpointError:
            return self.latest_checkpoint

    def _run(self) -> Any:
        from flowstudio.training.runs import Run  # light: no torch

        assert self.run_dir is not None
        return Run(self.run_dir)

    # ------------------------------------------------------------------ transitions
    def start(self, model: str, resume: bool = False, now: float | None = None) -> Path:
        """Begin a run of ``model``: in a new folder, or (``resume`` and :attr:`resumable`)
        in the last run's folder (:attr:`resumed` says which). Returns the folder; the caller
        starts the engine there."""
        if not self.can(RunState.TRAINING) or self.state is RunState.PAUSED:
            raise InvalidTransitionError(f"a {self.state.value} run cannot start another")
        self.resumed = resume and self.resumable
        if not self.resumed:
            self.run_dir = new_run_dir(self._runs_root(), self.kind, model, now)
        self.latest_checkpoint = None
        self._begin()
        return self.run_dir

    def open(self, run_dir: Path) -> None:
        """Make ``run_dir`` (a run on disk, reopened) this workspace's run: the next start may
        continue it."""
        if self.active:
            raise InvalidTransitionError(f"a {self.state.value} run cannot open another")
        self.run_dir = run_dir
        self.latest_checkpoint = None

    def follow(self, run_dir: Path) -> None:
        """``run_dir`` trains in another process: follow it as this workspace's run."""
        if not self.can(RunState.TRAINING) or self.state is RunState.PAUSED:
            raise InvalidTransitionError(f"a {self.state.value} run cannot follow another")
        self.open(run_dir)
        self.resumed = True
        self._begin()

    def _begin(self) -> None:
        """A run starts training: forget what the last one reported."""
        self.last_progress = None
        self.finished_event = None
        self.failure = None
        self.samples_received = 0
        self._move(RunState.TRAINING)

    def pause(self) -> None:
        self._move(RunState.PAUSED)

    def resume(self) -> None:
        if self.state is not RunState.PAUSED:
            raise InvalidTransitionError(f"a {self.state.value} run cannot resume")
        self._move(RunState.TRAINING)

    def stop(self) -> None:
        self._move(RunState.STOPPING)

    def handle(self, event: object) -> str | None:
        """Remember what an engine event says about the run; returns which it was
        (``progress``, ``samples``, ``checkpoint``, ``finished``), or ``None`` for the rest."""
        from flowstudio.training.events import Checkpointed, Finished, Progress, Samples

        if isinstance(event, Progress):
            self.last_progress = event
            return "progress"
        if isinstance(event, Samples):
            self.samples_received += 1
            return "samples"
        if isinstance(event, Checkpointed):
            self.latest_checkpoint = event.path
            return "checkpoint"
        if isinstance(event, Finished):
            self.finished_event = event
            return "finished"
        return None

    def fail(self, text: str) -> None:
        """The run's thread raised: ``text`` says what (the state moves when it has ended)."""
        self.failure = text

    def ended(self) -> RunState:
        """The run's thread is gone: finished, or failed when it raised or the engine said so."""
        failed = self.failure is not None or (
            self.finished_event is not None and self.finished_event.reason == "error"
        )
        self._move(RunState.FAILED if failed else RunState.FINISHED)
        return self.state

    def forget_run(self) -> None:
        """New data or another model: the next start makes a new run folder."""
        if not self.active:
            self.run_dir = None
