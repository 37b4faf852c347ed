"""Training from the window: Train, Pause, Resume and Stop, the run's events drawn as they
come, and its bounded history of live samples; mixed into
:class:`~flowstudio.gui.workspace.Workspace`.

The run's state machine is the workbench's :class:`~flowstudio.workbench.session.RunSession`;
this part turns the user's presses into its transitions and the session's events into the
chart, the run bar, the live samples and the log.
"""

from __future__ import annotations

import time
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.gui.worker import TrainingSession
from flowstudio.workbench import engines
from flowstudio.workbench.event_text import event_notices, failure_notices, progress_text
from flowstudio.workbench.history import SampleHistory
from flowstudio.workbench.session import RunState
from flowstudio.workbench.texts import training_clash

HISTORY_SAVE_EVERY = 8
"""The run's training history is written every this many kept snapshots (and at its end)."""
CLASH_CONFIRM_S = 10.0
"""A second press of Train within this long starts a run beside one already training."""


class TrainingControls:
    """The workspace's part that starts, steers and draws a training run."""

    # ------------------------------------------------------------------ training
    def start_training(self) -> None:
        if self.training or self.run.active:  # the run's end may not be handled yet
            return
        if self.data is None:
            self.error("Load a data set first (File > Open… or a built-in sample).")
            return
        try:
            values = self.params.values()
            model, preset = self.model_combo.currentText(), self.preset_combo.currentText()
            options = engines.training_options(values, self.device_combo.currentData() or "auto")
            options.validate()
            factory = self.kind_adapter.task_factory(self.data, model, preset, values)
        except BadInputError as exc:
            self.error(f"Cannot train: {exc}")
            return
        running = self.other_runs()
        if running and time.monotonic() - self._clash_warned_at > CLASH_CONFIRM_S:
            self._clash_warned_at = time.monotonic()
            self.log(training_clash(self.title, running), "warning")
            self.banner.show_message(training_clash(self.title, running), "warning")
            return
        self._clash_warned_at = -1e9
        wants_resume = self.continue_box.isVisible() and self.continue_box.isChecked()
        self.banner.hide()
        run_dir = self.run.start(model, resume=wants_resume)
        if self.run.resumed:  # the engine counts on from the run's latest checkpoint; the chart goes on too
            options.resume = True
        else:
            self.chart.clear()
        session = self.training_session(factory, run_dir, options, model, preset, values)
        self._connect_session(session)
        if isinstance(session, TrainingSession):
            self.sessions_started.append(session)
        verb = "continuing" if self.run.resumed else "training"
        self.log(f"{self.title}: {verb} {model} ({preset} preset) in {run_dir}")
        self.run_bar.starting()
        self.tabs.setCurrentWidget(self.training_tab)
        session.start()
        self.state_changed.emit(self.state)  # again: the window's title asks whether a thread runs

    def _connect_session(self, session: Any) -> None:
        session.event.connect(self._on_event)
        session.failed.connect(self._on_failed)
        session.ended.connect(lambda: self._on_ended(session))
        self.session = session

    def _forget_run(self) -> None:
        """New data or another model: the next Train starts a new run (but the data of a
        reopened run belongs to it)."""
        if self._run_to_keep is not None and self._run_to_keep == self.run.run_dir:
            self._run_to_keep = None
            return
        self.run.forget_run()
        if not self.training:
            self.continue_box.hide()

    def pause_training(self) -> None:
        if self.run.state is RunState.TRAINING:
            self.session.pause()
            self.log("paused")
            self.run.pause()

    def resume_training(self) -> None:
        if self.run.state is RunState.PAUSED:
            self.session.resume()
            self.log("resumed")
            self.run.resume()

    def stop_training(self) -> None:
        if self.run.can(RunState.STOPPING):
            self.session.stop()
            self.log("stopping after the current step…")
            self.run.stop()

    def wait_for_training(self, timeout_ms: int = 30_000) -> bool:
        """Stop any run and wait for its thread; ``True`` when none is left running."""
        ok = True
        for session in [*self.sessions_started, *self.folder_sessions]:
            ok = session.wait(timeout_ms) and ok
        return ok

    def _show_state(self, state: RunState) -> None:
        self.run_bar.show_activity(state.activity, self.run.resumable)
        box = self.model_box
        locked = (self.model_combo, self.preset_combo, self.device_combo, box.where_combo, box.processes)
        locked += (self.params,)
        for w in (*locked, self.open_button, self.sample_combo):
            w.setEnabled(not state.active)
        self.show_placeholders()
        self.state_changed.emit(state.activity)

    def show_placeholders(self) -> None:
        """Every analysis page's empty view says what it waits for, given the run and model."""
        from flowstudio.gui.pages.base import AnalysisPage

        for page in self.findChildren(AnalysisPage):
            page.show_run_state(self.run.state.activity, self.model is not None)

    def _on_event(self, event: object) -> None:
        what = self.run.handle(event)
        if what == "progress":
            nfe = {"NFE forward": event.nfe_forward, "NFE backward": event.nfe_backward}
            self.chart.add(event.step, dict(event.losses), nfe)
            self.run_bar.show_progress(progress_text(event, paused=self.run.state is RunState.PAUSED))
        elif what == "samples":
            self._keep_in_history(event)
            if self.history_bar.live:
                self._samples_limiter.submit(event)
        self.tell(event_notices(event))

    # ------------------------------------------------------------------ training history
    def _keep_in_history(self, event: Any) -> None:
        """Keep a live snapshot in the run's bounded history (loaded when a run continues)."""
        if getattr(self, "_history_dir", None) != self.run.run_dir:
            self._history_dir = self.run.run_dir
            self.history = SampleHistory.load(self.run.run_dir) if self.run.run_dir else SampleHistory()
        if self.history.add(event):
            self.history_bar.set_steps([s.step for s in self.history.snapshots])
            if len(self.history) % HISTORY_SAVE_EVERY == 0 and self.run.run_dir is not None:
                # written on the file thread from a copy: compressing it here would stall the window
                copy, run_dir = SampleHistory(list(self.history.snapshots)), self.run.run_dir
                self.io_jobs.submit("history", lambda: copy.save(run_dir), lambda _: None)

    def _save_history(self) -> None:
        history, run_dir = getattr(self, "history", None), self.run.run_dir
        if history is not None and len(history) and run_dir is not None and run_dir.is_dir():
            try:
                history.save(run_dir)
            except OSError as exc:
                self.log(f"could not save the training history in {run_dir}: {exc}", "warning")

    def _show_history(self, index: int) -> None:
        """The snapshot at ``index`` of the history, or the live samples (-1)."""
        history = getattr(self, "history", None)
        if history is None or not len(history):
            return
        self.show_live_samples(history.snapshots[index])  # -1: the latest, until the next live one

    def _on_failed(self, text: str) -> None:
        self.run.fail(text)
        self.tell(failure_notices(text))

    def _on_ended(self, session: TrainingSession) -> None:
        if session is not self.session:
            return
        self.run.ended()
        self.run_bar.done()
        self._save_history()
        checkpoint = self.run.best_checkpoint()
        if checkpoint is not None:
            self.open_model(checkpoint, announce=False)
