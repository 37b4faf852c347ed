"""A rank of the data-parallel tests, started by ``torchrun`` (see test_distributed.py).

``grads ENGINE OUT``: one DDP step of a tiny task; rank 0 saves the averaged gradients.
``fail ENGINE RUN STEP``: train a tiny task whose rank 1 raises at step STEP (the whole
run must end with an error, not hang). ENGINE is ``points``, ``points-adjoint`` or ``mols``.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from flowstudio.training import TrainOptions, seed_everything
from flowstudio.training.distributed import world_from_env

SEED = 7
POINTS = {"point_hidden": "8-8", "solver": "euler", "steps": 2, "train_points": 16, "batch_size": 2,
          "snapshot_points": 16, "val_shapes": 2, "latent_dim": 4, "encoder_hidden": "8-8",
          "prior_hidden": "8-8", "objective": "likelihood", "prior_refine_s": 0}
SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "CC#N", "C1CCNCC1"]
MOLS = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.25,
        "batch_size": 4, "size_calibration": 0}


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


def fail(engine: str, run: str, at: int) -> int:
    from flowstudio.cli.progress import run_training

    world = world_from_env()
    task = tiny_task(engine)
    original = task.training_step

    def training_step(step: int) -> dict[str, torch.Tensor]:
        if world.rank == 1 and step == at:
            raise RuntimeError(f"rank 1 fails on purpose at step {step}")
        return original(step)

    task.training_step = training_step  # type: ignore[method-assign]
    options = TrainOptions.from_values({**task.values, "iters": 1000, "device": "cpu", "seed": SEED})
    return run_training(task, run, options, live=False)


if __name__ == "__main__":
    if sys.argv[1] == "grads":
        grads(sys.argv[2], sys.argv[3])
    else:
        sys.exit(fail(sys.argv[2], sys.argv[3], int(sys.argv[4])))
