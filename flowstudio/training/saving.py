"""Checkpoint writing for the trainer: atomic, rank 0 only, never a broken model.

``latest.pt`` holds everything a resume needs (model, optimizer, step, random generators,
the task's extra state, the engine's own state); ``best.pt`` the same without the
optimizer. A model whose weights are not finite is never written over a good checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from flowstudio.training.checkpoint import save_checkpoint
from flowstudio.training.events import Checkpointed
from flowstudio.training.rng import capture_rng_state


class CheckpointWriterMixin:
    """The trainer's checkpoint writes (mixed into the trainer of :mod:`.engine`)."""

    def _params_finite(self: Any) -> bool:
        flags = [torch.isfinite(p).all() for p in self.task.model.parameters()]
        return bool(torch.stack(flags).all()) if flags else True

    def _write(self: Any, path: Path, metric: float | None) -> None:
        if not self.world.is_main:
            return
        if not self._params_finite():  # never replace a good checkpoint by a broken model
            raise FloatingPointError("the model's weights are not finite; checkpoint not written")
        best = path == self.run_folder.best
        model_state, averaging = self._states_to_save(optimizer_too=not best)  # see .averaging
        with self.run_folder.writing(f"checkpoints/{path.name}"):
            save_checkpoint(
                path, kind=self.task.kind, model_name=self.task.model_name, config=self.task.config(),
                model_state=model_state, extra_state=self.task.extra_state(),
                optimizer_state=None if best else self.optimizer.state_dict(),
                engine_state={
                    "rng": capture_rng_state(), "best_metric": self.best_metric,
                    "recoveries": self.recoveries,
                    "elapsed_s": self.prior_elapsed_s + self._train_seconds(),
                    "base_lr": self.options.lr, "weight_decay": self.options.weight_decay,
                    **averaging,
                },
                step=self.step, metric=metric,
            )
        if not best:
            self.saved_step = self.step
            self.last_checkpoint = time.monotonic()

    def _save(self: Any, path: Path, metric: float | None = None) -> Checkpointed:
        self._write(path, metric)
        return Checkpointed(step=self.step, path=path, best=path == self.run_folder.best, metric=metric)

    def _save_quietly(self: Any) -> None:
        """Best effort on the way out of an interrupted run."""
        try:
            if hasattr(self, "started") and self.step != self.saved_step:
                self._write(self.run_folder.latest, None)
        except Exception:
            pass
