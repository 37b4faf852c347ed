"""Runs that train outside the window's thread, and runs on disk reopened: mixed into
:class:`~flowstudio.gui.workspace.Workspace`.

Where a run trains is the user's choice (the model panel's *Train in*):

- **a separate process** (the default): the same CLI a user would type, launched as a child
  (under torchrun with several processes) and followed through its run folder by a
  :class:`~flowstudio.gui.folder_run.FolderRunSession`. The window keeps its GIL and its
  cores (no stall from a training thread), the run survives the window when the user leaves
  it running, and several GPUs or CPU processes train data-parallel.
- **this window** (a :class:`~flowstudio.gui.worker.TrainingSession` thread). It stays
  because it starts at once, with PyTorch already imported and the data already read (a
  child pays seconds for both on a CPU, too much for a 20-step try of a setting), and
  because it needs no ``python -m flowstudio`` to launch (a frozen, packaged app has none).

A reopened run (:meth:`FolderRuns.open_run`) gets its model, preset, settings and data back,
its whole loss curve and last live samples, and its best checkpoint for the analysis pages;
a run still training is followed live until it ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowstudio.gui.folder_run import FolderRunSession
from flowstudio.gui.worker import TrainingSession
from flowstudio.workbench import engines, launch
from flowstudio.workbench.follow import RunFollower
from flowstudio.workbench.runs import RunSummary

REPLAY_POLLS = 10_000
"""At most this many log chunks are read to draw a reopened run's curve."""


class FolderRuns:
    """The workspace's part that launches, follows and reopens run folders."""

    folder_sessions: list[FolderRunSession]

    # ------------------------------------------------------------------ questions
    @property
    def follows_only(self) -> bool:
        """The current run trains in a process this window did not start."""
        session = self.session
        return isinstance(session, FolderRunSession) and not session.launched and session.running

    @property
    def child_training(self) -> bool:
        """A trainer process this window launched is running."""
        session = self.session
        return isinstance(session, FolderRunSession) and session.launched and session.running

    # ------------------------------------------------------------------ launching
    def training_session(
        self, factory: Any, run_dir: Path, options: Any, model: str, preset: str, values: dict[str, Any]
    ) -> Any:
        """The session that trains ``run_dir``: a child process or this window's thread."""
        source = self.data.source if self.data is not None else None
        if self.model_box.where_combo.currentData() == "process" and source is not None and source.exists():
            processes = self.model_box.processes.value()
            argv = launch.train_command(
                self.kind, source, run_dir, model, preset, values, device=options.device,
                processes=processes, resume=options.resume,
            )
            session = FolderRunSession(run_dir, argv, launch.child_environment(), self)
            if options.resume:  # the chart shows the run so far; its log is read from here on
                session.follower.skip_existing()
            session.rewound.connect(self.chart.clear)
            self.folder_sessions.append(session)
            self.log(f"trainer process: {' '.join(argv)}")
            return session
        return TrainingSession(lambda control: engines.train_events(factory, run_dir, options, control), self)

    # ------------------------------------------------------------------ reopening
    def open_run(self, summary: RunSummary) -> None:
        """Make the run of ``summary`` this workspace's: settings, data, curve, samples and
        model; follow it live when it is still training."""
        if self.run.active:
            self.error("Stop the training run before opening another run.")
            return
        from flowstudio.workbench.runs import run_settings

        path = summary.path
        settings = run_settings(path)
        self._set_form(summary.model, settings.preset, settings.values)
        data = settings.data_path
        if data is not None and data.exists() and (self.data is None or self.data.source != data):
            self._run_to_keep = path  # the data arrives later; it must not forget this run
            self.load_path(data, remember=False)
        elif data is not None and not data.exists():
            self.log(f"the run's data {data} is not on this machine: pages needing it stay empty", "warning")
        self.run.open(path)
        self.chart.clear()
        self.settings.set_value("runs/last", str(path))
        if summary.status == "running":
            self.follow_run(path)
            return
        follower = RunFollower(path)
        for _ in range(REPLAY_POLLS):
            events = follower.poll()
            if not events:
                break
            for event in events:
                self._draw_event(event)
        self._show_state(self.run.state)
        self.notify(f"Opened run {path.name}: {summary.model}, {summary.steps:,} steps, {summary.status}.")
        checkpoint = self.run.best_checkpoint()
        if checkpoint is not None:
            self.open_model(checkpoint, announce=False)
        else:
            self.log(f"{path.name}: holds no checkpoint yet; its curve is all there is", "warning")

    def follow_run(self, path: Path) -> None:
        """Follow ``path``, trained by another process, as this workspace's current run."""
        self.run.follow(path)
        session = FolderRunSession(path, parent=self)
        session.rewound.connect(self.chart.clear)
        self._connect_session(session)
        self.folder_sessions.append(session)
        self.log(f"{self.title}: following {path} (trained by another process)")
        self.tabs.setCurrentWidget(self.training_tab)
        session.start()
        self.state_changed.emit(self.state)

    def _draw_event(self, event: Any) -> None:
        """A replayed event of a reopened run: drawn, not told (no banners for old news)."""
        what = self.run.handle(event)
        if what == "progress":
            nfe = {"NFE forward": event.nfe_forward, "NFE backward": event.nfe_backward}
            self.chart.add(event.step, dict(event.losses), nfe)
        elif what == "samples":
            self.show_live_samples(event)

    def _set_form(self, model: str, preset: str | None, values: dict[str, Any]) -> None:
        """The model panel as the run was trained (the form's own widgets)."""
        index = self.model_combo.findText(model)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        if preset and self.preset_combo.findText(preset) >= 0:
            self.preset_combo.setCurrentIndex(self.preset_combo.findText(preset))
        known = {p.name for p in self.kind_adapter.params_for(model)}
        self.params.set_values({k: v for k, v in values.items() if k in known})

    # ------------------------------------------------------------------ closing
    def leave_running(self) -> None:
        """The window closes and the user leaves its child runs training."""
        for session in self.folder_sessions:
            if session.running:
                session.detach()
                self.log(f"left training in the background: {session.run_dir}")
