"""Data-parallel training under ``torchrun``: PyTorch's DistributedDataParallel (DDP).

The same ``flowstudio points train`` / ``mols train`` command started by ``torchrun
--nproc_per_node=N`` (which sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``) trains on N
processes: gloo on the CPU, NCCL on GPUs (one per ``LOCAL_RANK``). Without those
variables :func:`world_from_env` returns a single-process :class:`World` whose methods
are identities, so the engine has one code path and a plain run pays nothing.

What the engine gets from here, and why:

* **Gradients.** A task computes its loss in ``training_step`` by calling model methods
  (``loss_terms``), not ``model.forward``. DDP only all-reduces the
  gradients of a backward that follows a forward *through the DDP wrapper*, so the model
  is wrapped in :class:`_StepModule`, a module holding ``task.model`` whose ``forward(step)``
  is ``task.training_step(step)``. Its parameters are the model's own tensors (the
  optimizer and checkpoints see the unwrapped model), DDP averages their gradients over
  the ranks during ``backward`` — torchdiffeq's adjoint included, since its gradients
  reach the parameters through ordinary autograd accumulation — and
  ``find_unused_parameters`` covers the parameters a step may leave out.
* **Data.** Every rank holds the whole data set and draws its own random batches: after
  set-up (and after a resume) each rank reseeds its generators from (seed, step, rank), so
  the ranks see different shapes or molecules. The global batch is the task's
  ``batch_size`` times the world size; ``config.json`` records both.
* **Agreement.** Stop and pause decisions that depend on a rank's clock, signals or
  control file (the minutes budget, Ctrl-C, a window's Pause) and whether a step's loss
  and gradients are finite are all-reduced (max), so every rank stops, pauses, rolls back
  or steps together and none waits forever in a collective. Paused ranks agree about once
  a second whether to resume or stop, so a pause may last longer than the process group's
  timeout. The iteration budget is the same step count everywhere.
* **Writes.** Rank 0 alone takes the run folder's lock and writes the config,
  checkpoints, metrics, validation and samples (:class:`FollowerRun` gives the other
  ranks a view of the folder that reads but never writes). Checkpoints hold the
  unwrapped model, so ``--resume`` works with any world size.
* **Failures.** A rank that fails posts why and exits non-zero; torchrun then stops the
  others. The process group's timeout (``FLOWSTUDIO_DIST_TIMEOUT_S``, default 600 s)
  bounds a wait in a collective. A rank whose collective breaks names the rank that
  failed, died or did not answer (:meth:`World.explain`), and a rank stuck outside the
  collectives ends itself that long after a peer failed (:mod:`.rank_watch`). Error
  lines say which rank wrote them; the process group is left through a barrier only
  when every rank finished cleanly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from flowstudio.errors import BadInputError
from flowstudio.training.control import Control
from flowstudio.training.events import Event, Finished, Message
from flowstudio.training.protocol import Task
from flowstudio.training.rank_watch import RankWatch, is_collective_failure
from flowstudio.training.rng import seed_everything
from flowstudio.training.runlock import RunLock
from flowstudio.training.runs import Run

TIMEOUT_ENV = "FLOWSTUDIO_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0
STOP_CODES = (None, "minutes", "stopped")
"""Stop reasons by rank; the all-reduced maximum wins (a user's stop beats a budget)."""
PAUSE_POLL_S = 1.0
"""How often paused ranks agree whether to resume or stop (see :meth:`World.wait_while_paused`)."""
SETTLE_S = 0.2
"""How long a rank waits after leaving the process group (see :meth:`World.leave`)."""


class FollowerRun(Run):
    """The run folder as a rank other than 0 sees it: it reads checkpoints (to resume) and
    writes nothing, takes no lock and checks nothing (rank 0 does)."""

    def open_for_training(self, lock: RunLock, resume: bool) -> int:
        return 0

    def writing(self, what: str) -> Any:  # type: ignore[override]
        return nullcontext()

    def write_config(self, config: dict[str, Any]) -> None:
        pass

    def append_metrics(self, record: dict[str, Any]) -> None:
        pass

    def truncate_metrics(self, after_step: int) -> None:
        pass

    def write_snapshot(self, event: Any) -> None:
        pass


class _StepModule(nn.Module):
    """The module DDP wraps: ``forward(step)`` runs the task's training step on its model."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.model = task.model
        self._task = task

    def forward(self, step: int) -> dict[str, Tensor]:
        return self._task.training_step(step)


@dataclass
class World:
    """This process's place among the ranks of a run (``size == 1``: not distributed);
    ``device`` is this rank's device once :meth:`join` has run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device | None = None
    watch: RankWatch | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def run_view(self, run: Run) -> Run:
        """``run`` for rank 0, a :class:`FollowerRun` of the same folder for the others."""
        return run if self.is_main else FollowerRun(run.root)

    def join(self, device: torch.device) -> torch.device:
        """Join the process group (gloo on the CPU, NCCL on CUDA) and return this rank's
        device: ``cuda:LOCAL_RANK`` when ``device`` is CUDA, else ``device``."""
        if not self.distributed:
            return device
        if device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise BadInputError(
                    f"LOCAL_RANK {self.local_rank}: this machine has {torch.cuda.device_count()} CUDA "
                    "device(s); start at most that many processes per node"
                )
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise BadInputError(f"device {device}: distributed training runs on CUDA or the CPU")
        if not dist.is_initialized():
            dist.init_process_group(
                "nccl" if device.type == "cuda" else "gloo", rank=self.rank, world_size=self.size,
                timeout=timedelta(seconds=_timeout_s()),
            )
        self.watch = RankWatch(self.rank, self.size, _timeout_s()).start()
        self.device = device
        return device

    def describe(self, task_config: dict[str, Any]) -> dict[str, Any]:
        """What ``config.json`` records of the world: its size and the global batch (the
        task's ``values["batch_size"]`` per rank, when it has one)."""
        per_rank = task_config.get("values", {}).get("batch_size")
        record: dict[str, Any] = {"world_size": self.size, "per_rank_batch": per_rank}
        record["global_batch"] = None if per_rank is None else int(per_rank) * self.size
        if self.distributed:
            record["backend"] = dist.get_backend()
        return record

    def step_function(self, task: Task, seed: int, step: int) -> Callable[[int], dict[str, Tensor]]:
        """The function the engine calls for one step's loss terms: ``task.training_step``
        itself, or under several ranks the DDP-wrapped one (after reseeding this rank's
        generators so that it draws its own batches)."""
        if not self.distributed:
            return task.training_step
        seed_everything(rank_seed(seed, step, self.rank))
        device = self.device or torch.device("cpu")
        wrapped = nn.parallel.DistributedDataParallel(
            _StepModule(task), device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )
        watch = self.watch

        def step_function(step: int) -> dict[str, Tensor]:
            if watch is not None:
                watch.beat(step)  # where this rank was, should a peer need to say
            return wrapped(step)

        return step_function

    def agree_finite(self, finite: Tensor) -> Tensor:
        """``finite`` (a 0-dim bool tensor) on every rank: true only if true on all."""
        if not self.distributed:
            return finite
        flag = (~finite).to(torch.int32).reshape(1)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag[0] == 0

    def agree(self, reason: str | None, paused: bool, device: torch.device) -> tuple[str | None, bool]:
        """The stop reason of the rank that most wants to stop (see :data:`STOP_CODES`) and
        whether any rank is paused, in one all-reduce (max) a step: every rank stops or
        pauses at the same step, since each reads its control on its own clock."""
        if not self.distributed:
            return reason, paused
        if reason is None and self.watch is not None and self.watch.orphaned():
            reason = "stopped"  # torchrun is gone: stop together, rank 0 saves
        codes = torch.tensor([STOP_CODES.index(reason), int(paused)], dtype=torch.int32, device=device)
        dist.all_reduce(codes, op=dist.ReduceOp.MAX)
        return STOP_CODES[int(codes[0])], bool(codes[1])

    def wait_while_paused(self, control: Control, device: torch.device) -> str | None:
        """Block while the run is paused; the agreed stop reason, or ``None`` once resumed.

        One process blocks on ``control`` (no busy-waiting). Several ranks wait together:
        each waits on its own token for at most :data:`PAUSE_POLL_S`, then all agree
        (:meth:`agree`) whether to stay paused, resume or stop. So no rank sits in a
        collective for longer than about one poll, however long the pause, and resume and
        stop happen at the same step everywhere (a pause longer than the process group's
        timeout would otherwise fail the run)."""
        if not self.distributed:
            control.wait_while_paused()
            return "stopped" if control.stopped else None
        while True:
            if control.paused:
                control.wait_while_paused(PAUSE_POLL_S)  # returns early on resume or stop
            else:  # resumed here (or never paused) while another rank is still paused
                time.sleep(PAUSE_POLL_S)
            reason, paused = self.agree("stopped" if control.stopped else None, control.paused, device)
            if reason is not None or not paused:
                return reason

    def events(self, events: Iterator[Event]) -> Iterator[Event]:
        """The events this rank reports: all on rank 0; on the others only errors and the
        end, since they write nothing and their progress repeats rank 0's. Under several
        ranks, error lines name this rank, a failure is posted for the others
        (:class:`RankWatch`), and the process group is left once ``events`` is done."""
        if not self.distributed:
            yield from events
            return
        clean = False
        try:
            for event in events:
                if isinstance(event, Finished):
                    clean = event.reason != "error"
                    if not clean:
                        self._posted_failure(event.step, event.error or "error")
                        event = replace(event, error=self._named(event.error or "error"))
                elif isinstance(event, Message) and event.level == "error":
                    event = replace(event, text=self._named(event.text))
                if self.is_main or isinstance(event, Finished) or (
                    isinstance(event, Message) and event.level == "error"
                ):
                    yield event
        except BaseException as exc:  # bad input, a full disk, Ctrl-C: the others must know
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, Exception) else "interrupted"
            self._posted_failure(None, reason)
            raise
        finally:
            events.close()  # the trainer's own clean-up (its lock, a last checkpoint) first
            self.leave(in_step=clean)

    def explain(self, exc: BaseException, step: int) -> str | None:
        """For a broken collective (a peer failed, died or hangs), one line naming the
        rank(s) and why; ``None`` for any other error, which is this rank's own."""
        if self.watch is None or not is_collective_failure(exc):
            return None
        return self.watch.explain(step)

    def _named(self, text: str) -> str:
        return text if text.startswith(f"rank {self.rank}") else f"rank {self.rank}: {text}"

    def _posted_failure(self, step: int | None, reason: str) -> None:
        if self.watch is not None:
            self.watch.failed(step, (reason.strip().splitlines() or [""])[0])

    def leave(self, *, in_step: bool = True) -> None:
        """Leave the process group (a no-op when there is none). ``in_step``: every rank got
        here on the normal path, so they first meet at a barrier: a rank that tears its
        connections down while a peer still talks to it makes gloo abort that peer.

        Then it waits :data:`SETTLE_S` with the GIL released. A gloo worker thread drops
        its reference to a finished collective just after the caller's wait returns, and
        the collective's saved thread state holds a Python object (torch 2.13: seen as a
        ``contextvars.Context``), so that release takes the GIL. Were the interpreter
        already shutting down, the thread would exit inside a destructor and the C++
        runtime abort the process: a rank that had finished cleanly ended with SIGABRT
        ("terminate called without an active exception") in about one of 30 two-rank
        runs. The group's threads cannot be joined from here (they still ran after
        ``destroy_process_group`` with no Python handle to the group or the DDP module
        left), so they are given time to finish instead."""
        if self.watch is not None:
            self.watch.close()
        if self.distributed and dist.is_initialized():
            if in_step:
                dist.barrier()
            dist.destroy_process_group()
            time.sleep(SETTLE_S)


def rank_seed(seed: int, step: int, rank: int) -> int:
    """A seed for ``rank`` at ``step``, independent across ranks (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


def _timeout_s() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise BadInputError(f"{TIMEOUT_ENV}={text!r}: not a number of seconds") from None
    if not value > 0:
        raise BadInputError(f"{TIMEOUT_ENV}={text!r}: must be > 0 seconds")
    return value


def world_from_env() -> World:
    """The :class:`World` torchrun describes in ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
    a single process when ``WORLD_SIZE`` is unset or 1."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise BadInputError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
    if size <= 1:
        return World()
    if not 0 <= rank < size:
        raise BadInputError(f"RANK={rank} is not in 0..{size - 1} (WORLD_SIZE={size})")
    return World(rank=rank, size=size, local_rank=local)

