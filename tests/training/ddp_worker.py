"""A rank of the data-parallel tests, started by ``torchrun`` (see test_distributed.py).

``grads ENGINE OUT``: one DDP step of a tiny task; rank 0 saves the averaged gradients.
``fault KIND ENGINE RUN STEP``: train a tiny task (through the CLI's ``run_training``) in
which, at step STEP, a fault of KIND strikes (the whole run must end, not hang):
``raise`` (rank 1 raises), ``sigkill`` (rank 1 kills itself with SIGKILL: kill -9),
``hang`` (rank 1 sleeps for ten minutes) or ``diskfull`` (rank 0's disk is full: the
lowest-level checkpoint write fails with ENOSPC from then on).
``packed RUN``: GraphAF with its batch-packing worker (see :func:`packed`).
``steps ENGINE RUN``: train a tiny task through ``run_training`` (so the run folder's
control file reaches it) until stopped, each rank appending ``step time`` to
``RUN.steps-RANK`` as it starts a step; rank 1 obeys a pause only 3 steps after it reads
it (as a rank on another node, behind a slow shared folder, would), unless a resume or
stop comes first. ENGINE is ``points``,
``points-adjoint`` or ``mols``. The faults are injected here, in the test's worker: the
product has no fault hook.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from flowstudio.training import Control, TrainOptions, seed_everything
from flowstudio.training.distributed import world_from_env

SEED = 7
POINTS = {"point_hidden": "8-8", "solver": "euler", "steps": 2, "train_points": 16, "batch_size": 2,
          "snapshot_points": 16, "val_shapes": 2, "latent_dim": 4, "encoder_hidden": "8-8",
          "prior_hidden": "8-8", "objective": "likelihood", "prior_refine_s": 0}
SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "CC#N", "C1CCNCC1"]
MOLS = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.25,
        "batch_size": 4, "size_calibration": 0, "ring_tilt_steps": 0}


def tiny_task(engine: str):
    """The same tiny task (same initial weights) in every process that asks for it."""
    seed_everything(SEED)
    if engine.startswith("points"):
        from flowstudio.pointclouds.task import PointCloudTask

        rng = np.random.default_rng(0)
        pts = rng.normal(size=(6, 64, 3))
        pts /= np.linalg.norm(pts, axis=-1, keepdims=True)
        shapes = (pts * np.array([1.0, 0.5, 0.25]) + 10.0).astype(np.float32)
        values = {**POINTS, "adjoint": engine == "points-adjoint"}
        if engine == "points-adjoint":
            values["solver"] = "dopri5"
        return PointCloudTask(shapes, "pointflow", "quick", values)
    from flowstudio.molecules.task import MoleculeTask

    return MoleculeTask(SMILES, "quick", MOLS)


def grads(engine: str, out: str) -> None:
    world = world_from_env()
    task = tiny_task(engine)
    task.to(world.join(torch.device("cpu")))
    step = world.step_function(task, SEED, 0)
    step(0)["loss"].backward()
    if world.is_main:
        torch.save({n: p.grad for n, p in task.model.named_parameters() if p.grad is not None}, out)
    world.leave()


def fault(kind: str, engine: str, run: str, at: int) -> int:
    from flowstudio.cli.progress import run_training
    from flowstudio.training import checkpoint

    world = world_from_env()
    task = tiny_task(engine)
    original = task.training_step

    def training_step(step: int) -> dict[str, torch.Tensor]:
        if step == at and world.rank == 1 and kind == "raise":
            raise RuntimeError(f"rank 1 fails on purpose at step {step}")
        if step == at and world.rank == 1 and kind == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if step == at and world.rank == 1 and kind == "hang":
            time.sleep(600)
        return original(step)

    task.training_step = training_step  # type: ignore[method-assign]
    if kind == "diskfull" and world.rank == 0:
        real_write, steps = checkpoint.write_all, [0]

        def write_until_full(fd: int, data: memoryview) -> None:
            if steps[0] >= at:
                os.write(fd, bytes(data[:100]))
                raise OSError(errno.ENOSPC, "No space left on device")
            real_write(fd, data)

        def counting_step(step: int) -> dict[str, torch.Tensor]:
            steps[0] = step
            return training_step(step)

        checkpoint.write_all = write_until_full
        task.training_step = counting_step  # type: ignore[method-assign]
    values = {**task.values, "iters": 1000, "device": "cpu", "seed": SEED, "checkpoint_every": 2,
              "checkpoint_every_s": 3600.0, "validate_every": 1000}
    return run_training(task, run, TrainOptions.from_values(values), live=False)


class LateControl(Control):
    """A :class:`Control` that obeys a pause only after ``late`` more steps (see ``steps``)."""

    def __init__(self, late: int) -> None:
        super().__init__()
        self.late, self.due = late, None

    def pause(self) -> None:
        self.due = self.late

    def resume(self) -> None:
        self.due = None
        super().resume()

    def stop(self) -> None:
        self.due = None
        super().stop()

    def step_started(self) -> None:
        if self.due is not None:
            self.due -= 1
            if self.due <= 0:
                self.due = None
                super().pause()


def steps(engine: str, run: str) -> int:
    from flowstudio.cli.progress import run_training

    world = world_from_env()
    task = tiny_task(engine)
    original = task.training_step
    control = LateControl(3) if world.rank == 1 else Control()
    trace = open(f"{run}.steps-{world.rank}", "a", buffering=1)  # noqa: SIM115 (open for the run)

    def training_step(step: int) -> dict[str, torch.Tensor]:
        trace.write(f"{step} {time.time()}\n")
        if isinstance(control, LateControl):
            control.step_started()
        return original(step)

    task.training_step = training_step  # type: ignore[method-assign]
    values = {**task.values, "iters": 1_000_000, "device": "cpu", "seed": SEED, "checkpoint_every": 0,
              "checkpoint_every_s": 3600.0, "validate_every": 1_000_000, "samples_n": 0}
    return run_training(task, run, TrainOptions.from_values(values), control=control, live=False)


def packed(run: str) -> int:
    """``packed RUN``: train the tiny GraphAF task 10 steps with its batch-packing worker
    (started and ready before the first step); each rank checks every batch against the one
    it would have drawn itself and writes ``batches mismatches worker_pid`` to RUN.packed-RANK."""
    from dataclasses import fields

    from flowstudio.cli.progress import run_training
    from flowstudio.molecules.prefetch import draw_batch, same_state

    world = world_from_env()
    task = tiny_task("mols")
    task.values["pack_worker"] = "on"
    assert task.start_packing_worker(wait_s=300)
    pid = task._prefetcher.pid
    original, loss_terms = task.training_step, task.model.loss_terms
    seen, mismatches = [], [0]

    def capture(batch):  # the batch the step trains on
        seen.append(batch)
        return loss_terms(batch)

    def training_step(step: int) -> dict[str, torch.Tensor]:
        before = np.random.get_state()
        terms = original(step)
        rng = np.random.RandomState()
        rng.set_state(before)
        own = draw_batch(task.train_graphs, task.vocab, task.values["batch_size"], rng)
        same = all(torch.equal(getattr(seen[-1], f.name), getattr(own, f.name))
                   for f in fields(own) if isinstance(getattr(own, f.name), torch.Tensor))
        mismatches[0] += not (same and same_state(rng.get_state(), np.random.get_state()))
        return terms

    task.model.loss_terms = capture
    task.training_step = training_step  # type: ignore[method-assign]
    values = {**task.values, "iters": 10, "device": "cpu", "seed": SEED, "validate_every": 1000,
              "samples_n": 0}
    code = run_training(task, run, TrainOptions.from_values(values), live=False)
    Path(f"{run}.packed-{world.rank}").write_text(f"{task.worker_batches} {mismatches[0]} {pid}")
    return code


if __name__ == "__main__":
    if sys.argv[1] == "grads":
        grads(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "steps":
        sys.exit(steps(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "packed":
        sys.exit(packed(sys.argv[2]))
    else:
        sys.exit(fault(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
