"""The training loop: a generator of progress events with a stop/pause token.

``train(task, run_dir, options, control)`` owns everything generic: the device, seeds,
the optimizer, budgets, stop/pause, NaN rollback, checkpoints, the metrics log and
events. The consumer pulls events (the CLI draws a progress bar, the GUI worker relays
them as signals); training happens in the consumer's thread, between pulls.

Errors: :class:`BadInputError` (bad options, an absent device, an unusable or foreign
checkpoint, a task reporting bad input, a run folder another trainer holds, or one that
refuses a write because it is full or read-only, which stops the run keeping the last good
checkpoint) propagates to the caller — the CLI exits 2.
Any other exception raised by task code ends the run with a final checkpoint attempt, an
error :class:`Message` holding the traceback and ``Finished(reason="error", error=...)``;
the generator never raises those, so the GUI needs no special path and the CLI exits 1.
Non-finite losses are not errors: they are rolled back (see :meth:`_Trainer._recover`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from flowstudio.errors import BadInputError, CheckpointError
from flowstudio.training.averages import mean_present, mean_terms
from flowstudio.training.averaging import AveragingMixin
from flowstudio.training.checkpoint import Checkpoint, load_checkpoint, versions
from flowstudio.training.control import Control
from flowstudio.training.device import describe_device, select_device
from flowstudio.training.distributed import World, world_from_env
from flowstudio.training.events import Event, Finished, Message, Progress, Samples
from flowstudio.training.options import TrainOptions
from flowstudio.training.protocol import Task
from flowstudio.training.resume import apply_changed_optimizer_options, newest_readable
from flowstudio.training.rng import isolated_rng, restore_rng_state, seed_everything
from flowstudio.training.rollback import GOOD_STATE_EVERY, RollbackMixin
from flowstudio.training.runlock import RunLock
from flowstudio.training.runs import Run, RunFolderError
from flowstudio.training.saving import CheckpointWriterMixin
from flowstudio.training.schedule import apply_schedule, lr_factor, remember_base_lr
from flowstudio.training.stages import FinalStagesMixin


def train(task: Task, run_dir: str | Path, options: TrainOptions, control: Control | None = None
          ) -> Iterator[Event]:
    """Train ``task`` into the run folder ``run_dir``, yielding events until ``Finished``.

    ``options.resume`` continues the run from its newest readable checkpoint (``latest.pt``,
    else ``best.pt``: model, optimizer, step, random generators, task extra state); without
    it, a folder that already holds a checkpoint is refused so that a run is never
    overwritten by accident. The run folder is locked while training (:mod:`.runlock`).
    """
    world = world_from_env()  # several ranks under torchrun (see .distributed)
    trainer = _Trainer(task, world.run_view(Run(run_dir)), options.validate(), control or Control(), world)
    yield from world.events(trainer.run())


class _Trainer(RollbackMixin, CheckpointWriterMixin, FinalStagesMixin, AveragingMixin):
    def __init__(self, task: Task, run: Run, options: TrainOptions, control: Control, world: World) -> None:
        self.task, self.run_folder, self.options, self.control = task, run, options, control
        self.world = world
        self.step = 0
        self.best_metric: float | None = None
        self.recoveries = 0
        self.prior_elapsed_s = 0.0  # training time of earlier sessions of this run
        self.window: list[dict[str, Tensor]] = []  # loss terms since the last Progress
        self.nfe: list[tuple[float | None, float | None]] = []
        self.saved_step = -1
        self.validated_step = 0
        self.lock = RunLock(run.root)
        self.threads_before: int | None = None  # intra-op threads to restore (see _limit_threads)

    # -- clocks ---------------------------------------------------------------------------
    def _train_seconds(self) -> float:
        """Seconds trained in this session, pauses excluded."""
        return time.monotonic() - self.started - self.paused_s

    # -- set-up ---------------------------------------------------------------------------
    def _setup(self) -> Iterator[Event]:
        task, options, run = self.task, self.options, self.run_folder
        self.device = self.world.join(select_device(options.device))
        removed = run.open_for_training(self.lock, resume=options.resume)
        if removed:
            yield Message(f"removed {removed} temporary file(s) of an interrupted write")
        seed_everything(options.seed)
        task.to(self.device)
        self._limit_threads(getattr(task, "cpu_threads", None))
        self.params = [p for p in task.model.parameters() if p.requires_grad]
        if not self.params:
            raise TypeError(f"task {task.model_name!r} has no trainable parameters")
        self.optimizer = torch.optim.AdamW(self.params, lr=options.lr, weight_decay=options.weight_decay)
        yield Message(f"training {task.model_name} on {describe_device(self.device)}")
        resumed = None
        if options.resume:
            resumed = yield from self._resume()
        self._start_average(resumed)  # the weight average, if the options keep one
        remember_base_lr(self.optimizer)  # the rate a schedule and NaN rollbacks scale
        report = getattr(task, "data_report", None)  # what the data reader skipped (optional)
        task_config = task.config()
        run.write_config({
            "kind": task.kind, "model_name": task.model_name, "task": task_config,
            "options": options.to_json(), "device": str(self.device), "versions": versions(),
            "distributed": self.world.describe(task_config),
            **({"data_skipped": report.to_json()} if report is not None else {}),
        })
        task.model.train()
        self.step_function = self.world.step_function(task, options.seed, self.step)
        self._remember_good_state()

    def _limit_threads(self, wanted: int | None) -> None:
        """Train on at most ``wanted`` intra-op threads on the CPU, where the task asks for it
        (``Task.cpu_threads``, optional; GraphAF: 1), unless the user chose a number with
        ``OMP_NUM_THREADS``. A step of hundreds of small operations waits for every thread at
        each one; on a shared machine a waiting thread is often descheduled
        (``benchmarks/results/graphaf.md``, section 7). Restored when the run ends."""
        if wanted and self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            self.threads_before = torch.get_num_threads()
            torch.set_num_threads(min(wanted, self.threads_before))

    def _read(self, path: Path) -> Checkpoint:
        return load_checkpoint(path, expect_kind=self.task.kind, expect_model=self.task.model_name)

    def _apply(self, ckpt: Checkpoint, path: Path, with_optimizer: bool) -> None:
        """Put ``ckpt`` (read from ``path``) into the task's model (and the optimizer) and
        restore the task's extra state; a checkpoint that does not fit is a clear error."""
        task = self.task
        try:
            task.model.load_state_dict(ckpt.model_state)
            if with_optimizer and ckpt.optimizer_state is not None:
                self.optimizer.load_state_dict(ckpt.optimizer_state)
        except (RuntimeError, ValueError, KeyError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise CheckpointError(
                f"{path}: does not fit this model (were its hyperparameters changed?): {reason}"
            ) from None
        task.load_extra_state(ckpt.extra_state)

    def _resume(self) -> Generator[Event, None, Checkpoint]:
        ckpt, fallback = newest_readable(self.run_folder.resume_candidates(), self._read)
        path = ckpt.path
        self._apply(ckpt, path, with_optimizer=True)
        engine = ckpt.engine_state
        note = apply_changed_optimizer_options(self.optimizer, self.options, engine)
        if isinstance(engine.get("rng"), dict):
            restore_rng_state(engine["rng"])
        self.step = self.saved_step = self.validated_step = ckpt.step
        self.best_metric = engine.get("best_metric")
        self.recoveries = int(engine.get("recoveries", 0))
        self.prior_elapsed_s = float(engine.get("elapsed_s", 0.0))
        self.run_folder.truncate_metrics(ckpt.step)
        yield Message(f"resumed from step {ckpt.step} ({path}){fallback}{note}")
        return ckpt

    # -- the run --------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        try:
            yield from self._run()
        finally:
            if self.threads_before is not None:
                torch.set_num_threads(self.threads_before)
            close = getattr(self.task, "close", None)  # optional: helpers a task runs (GraphAF's packer)
            if callable(close):
                close()
            self.lock.release()  # the world leaves its process group after (World.events)

    def _run(self) -> Iterator[Event]:
        try:
            yield from self._setup()
        except BadInputError:
            raise
        except Exception as exc:  # a bug in task set-up code: report it like any other
            yield Message(f"training could not start:\n{traceback.format_exc()}", level="error")
            yield Finished(self.step, "error", self.run_folder.root, error=f"{type(exc).__name__}: {exc}")
            return
        self.started = self.last_progress = self.last_samples = self.last_checkpoint = time.monotonic()
        self.paused_s = self.progress_paused_s = 0.0
        try:
            reason = yield from self._loop()
            yield from self._finish(reason)
        except RunFolderError as exc:  # read-only or full: stop, say so, keep what is there
            self._save_quietly()
            kept = (f"checkpoints/latest.pt, step {self.saved_step}" if self.saved_step >= 0
                    else "checkpoints/best.pt" if self.run_folder.best.is_file() else "none was written")
            raise RunFolderError(
                f"{exc}; training stopped at step {self.step}; the last good checkpoint is kept ({kept})"
            ) from None
        except BadInputError:
            self._save_quietly()
            raise
        except Exception as exc:
            lost = self.world.explain(exc, self.step)  # a broken collective: which rank, and why
            failed = f"training failed at step {self.step}:\n{traceback.format_exc()}"
            yield Message(lost or failed, level="error")
            try:
                yield self._save(self.run_folder.latest)
            except Exception as save_exc:
                yield Message(f"could not write the final checkpoint: {save_exc}", level="error")
            yield self._finished("error", error=lost or f"{type(exc).__name__}: {exc}")
        except BaseException:  # GeneratorExit (the consumer closed us), KeyboardInterrupt
            self._save_quietly()
            raise

    def _loop(self) -> Iterator[Event]:
        options, control = self.options, self.control
        while True:
            minutes_up = options.minutes is not None and self._train_seconds() >= options.minutes * 60
            wanted = "stopped" if control.stopped else "minutes" if minutes_up else None
            stop, paused = self.world.agree(wanted, control.paused, self.device)  # every rank, one step
            if paused and stop is None:
                stop = yield from self._pause()
            if stop is not None:
                return stop
            if options.iters is not None and self.step >= options.iters:
                return "iterations"
            if not self._optimization_step():
                event = self._recover()
                if event is None:
                    return "diverged"
                yield event
                continue
            self.step += 1
            if self.step % GOOD_STATE_EVERY == 0:
                self._remember_good_state()
            if self.step % options.log_every == 0:
                yield self._progress()
            if self.step % options.validate_every == 0:
                yield from self._validate()
            now = time.monotonic()
            due = now - self.last_samples >= options.samples_every_s
            if options.samples_n and self.world.is_main and due:
                samples = self._samples()
                self.run_folder.write_snapshot(samples)  # for a window following the folder
                yield samples
                self.last_samples = time.monotonic()
            if now - self.last_checkpoint >= options.checkpoint_every_s or (
                options.checkpoint_every and self.step - max(self.saved_step, 0) >= options.checkpoint_every
            ):
                yield self._save(self.run_folder.latest)

    def _optimization_step(self) -> bool:
        """One step; ``False`` (and no update) when the loss or a gradient is not finite."""
        task, optimizer = self.task, self.optimizer
        optimizer.zero_grad(set_to_none=True)
        options = self.options
        if options.lr_schedule != "constant":
            factor = lr_factor(options.lr_schedule, self._budget_used(), options.lr_final_factor)
            apply_schedule(optimizer, factor)
        terms = self.step_function(self.step)
        loss = terms["loss"]
        loss.backward()
        if self.options.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.options.grad_clip)
        else:
            grads = [p.grad for p in self.params if p.grad is not None]
            grad_norm = torch.nn.utils.get_total_norm(grads) if grads else loss.new_zeros(())
        # The one host-device sync of a step, and a deliberate one: whether to apply the
        # update must be known before optimizer.step(), or a NaN would poison the weights
        # and Adam's moments. A single bool crosses; the loss values stay on the device and
        # are fetched together every log_every steps (_progress). Checked on an H100 with
        # torch.cuda.set_sync_debug_mode: one sync a step, one a log window, none otherwise.
        finite = torch.isfinite(loss.detach()).all() & torch.isfinite(grad_norm)
        finite = self.world.agree_finite(finite)  # all ranks step, or all roll back
        if not bool(finite):
            self.bad_reason = (
                "non-finite loss" if not bool(torch.isfinite(loss.detach()).all()) else "non-finite gradients"
            )
            return False
        optimizer.step()
        if self.average is not None:
            self.average.update(task.model)
        self.window.append({k: v.detach() for k, v in terms.items()})
        self.nfe.append(task.nfe())
        return True

    def _budget_used(self) -> float | None:
        """The fraction of the run's budget used (the larger of steps and minutes), or None."""
        used = []
        if self.options.iters:
            used.append(self.step / self.options.iters)
        if self.options.minutes:
            used.append(self._train_seconds() / (self.options.minutes * 60))
        return max(used) if used else None

    # -- events ---------------------------------------------------------------------------
    def _progress(self) -> Progress:
        losses = mean_terms(self.window)
        now = time.monotonic()
        span = max(now - self.last_progress - (self.paused_s - self.progress_paused_s), 1e-9)
        steps_per_s = len(self.window) / span
        self.last_progress, self.progress_paused_s = now, self.paused_s
        nfe_f = mean_present([f for f, _ in self.nfe])
        nfe_b = mean_present([b for _, b in self.nfe])
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.window, self.nfe = [], []
        self.run_folder.append_metrics({
            "step": self.step, "time": time.time(), "losses": losses, "lr": lr,
            "nfe_forward": nfe_f, "nfe_backward": nfe_b, "steps_per_s": steps_per_s,
        })
        return Progress(step=self.step, total_steps=self.options.iters, elapsed_s=self._train_seconds(),
                        eta_s=self._eta(steps_per_s), steps_per_s=steps_per_s, losses=losses, lr=lr,
                        nfe_forward=nfe_f, nfe_backward=nfe_b)

    def _eta(self, steps_per_s: float) -> float | None:
        etas = []
        if self.options.iters is not None and steps_per_s > 0:
            etas.append(max(self.options.iters - self.step, 0) / steps_per_s)
        if self.options.minutes is not None:
            etas.append(max(self.options.minutes * 60 - self._train_seconds(), 0.0))
        return min(etas) if etas else None

    def _samples(self) -> Samples:
        model = self.task.model
        model.eval()
        try:
            with isolated_rng(self.device), torch.no_grad(), self._averaged():
                snap = self.task.snapshot(self.options.samples_n)
        finally:
            model.train()
        return Samples(step=self.step, kind=snap.kind, points=snap.points, smiles=snap.smiles,
                       temperature=snap.temperature)

    def _validate(self, ties_win: bool = False, keep: bool = False) -> Iterator[Event]:
        """Score the model (eval mode, training RNG untouched; not under ``no_grad``, since
        a CNF's exact divergence needs autograd) and keep the best checkpoint (also on a tie
        with ``ties_win``: a final stage may change what the metric does not score; whatever
        it scores with ``keep``: a final stage that is not judged by it). Rank 0 only."""
        if not self.world.is_main:
            return
        model = self.task.model
        model.eval()
        try:
            with isolated_rng(self.device), self._averaged():
                metric = float(self.task.validation_metric())
        finally:
            model.train()
        self.validated_step = self.step
        self.run_folder.append_metrics({"step": self.step, "time": time.time(), "validation": metric})
        best = self.best_metric
        better = best is None or metric < best or (ties_win and metric == best) or keep
        if math.isfinite(metric) and better:
            self.best_metric = metric
            yield self._save(self.run_folder.best, metric=metric)

    # -- pause and the end ----------------------------------------------------------------
    def _pause(self) -> Iterator[Event]:
        """Wait out a pause (all ranks together, see :meth:`World.wait_while_paused`); returns
        the agreed stop reason, ``None`` when resumed."""
        if self.step != self.saved_step:
            yield self._save(self.run_folder.latest)
        yield Message(f"paused at step {self.step}")
        paused_at = time.monotonic()
        stop = self.world.wait_while_paused(self.control, self.device)
        self.paused_s += time.monotonic() - paused_at
        if stop is None:
            yield Message(f"resumed at step {self.step}")
        return stop

    def _finish(self, reason: str) -> Iterator[Event]:
        if self.window:  # the steps since the last Progress, so the display ends on the last step
            yield self._progress()
        if reason in ("iterations", "minutes") and self.step > self.validated_step:
            yield from self._validate()
        yield self._save(self.run_folder.latest)
        self._settle_average()
        if reason in ("iterations", "minutes", "stopped") and self.world.is_main:
            yield from self._final_stages(stopped=reason == "stopped")  # see .stages
        if reason == "diverged":
            error = (
                f"training diverged: the loss or gradients were not finite {self.recoveries} times "
                f"(max_recoveries={self.options.max_recoveries}); the last good weights (step "
                f"{self.step}) are saved — try a lower learning rate or stronger regularization"
            )
            yield Message(error, level="error")
            yield self._finished("error", error=error)
            return
        yield self._finished(reason)

    def _finished(self, reason: Any, error: str | None = None) -> Finished:
        seconds = self._train_seconds()
        extra = {"elapsed_s": seconds, "total_elapsed_s": self.prior_elapsed_s + seconds,
                 "recoveries": float(self.recoveries)}
        with contextlib.suppress(RunFolderError):  # the last record: how the run ended
            self.run_folder.append_metrics({"step": self.step, "time": time.time(), "event": "finished",
                                            "reason": reason, **({"error": error} if error else {})})
        return Finished(self.step, reason, self.run_folder.root, self.best_metric, error=error, extra=extra)

