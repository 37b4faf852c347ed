"""Tiny point-cloud tasks shared by the model and analysis tests (fixed-step, few points)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowstudio.pointclouds.task import PointCloudTask

OFFSET = np.array([100.0, -50.0, 20.0], dtype=np.float32)

TINY_CNF = {"point_hidden": "16-16", "solver": "euler", "steps": 2, "train_points": 64,
            "batch_size": 2, "snapshot_points": 32, "val_shapes": 2}
TINY_POINTFLOW = {**TINY_CNF, "latent_dim": 4, "encoder_hidden": "16-32", "prior_hidden": "8-8",
                  "objective": "likelihood"}


def squashed_spheres(n: int, p: int, seed: int = 0) -> np.ndarray:
    """n noisy ellipsoid surfaces (radii 1, 0.5, 0.25 times a per-shape size) around OFFSET."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, p, 3))
    pts /= np.linalg.norm(pts, axis=-1, keepdims=True)
    sizes = rng.uniform(0.7, 1.3, size=(n, 1, 1))
    return (pts * np.array([1.0, 0.5, 0.25]) * sizes + OFFSET).astype(np.float32)


@pytest.fixture
def shapes() -> np.ndarray:
    return squashed_spheres(6, 128)


@pytest.fixture
def pointflow_task(shapes: np.ndarray) -> PointCloudTask:
    return PointCloudTask(shapes, "pointflow", "quick", TINY_POINTFLOW)


@pytest.fixture
def cnf_task(shapes: np.ndarray) -> PointCloudTask:
    return PointCloudTask(shapes, "cnf", "quick", TINY_CNF)


def trained_a_little(task: PointCloudTask, steps: int = 5) -> PointCloudTask:
    """A few optimizer steps of the task's own objective, so that its weights are those of
    that objective (a flow-matching CNF is not a likelihood-trained one)."""
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-2)
    for step in range(steps):
        loss = task.training_step(step)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return task
