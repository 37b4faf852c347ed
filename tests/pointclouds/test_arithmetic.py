"""Latent arithmetic: an attribute vector from short to tall boxes makes a short box taller."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import arithmetic
from flowstudio.pointclouds.task import PointCloudTask

from .conftest import TINY_POINTFLOW

SHORT, TALL = 0.4, 1.6


def boxes(n: int, height: float, seed: int, p: int = 128) -> np.ndarray:
    """n boxes of points, 1 x height x 1, filled uniformly."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, size=(n, p, 3)) * np.array([1.0, height, 1.0])).astype(np.float32)


def height(cloud: np.ndarray) -> float:
    return float(cloud[:, 1].std())


@pytest.fixture(scope="module")
def groups() -> tuple[np.ndarray, np.ndarray]:
    return boxes(6, SHORT, seed=1), boxes(6, TALL, seed=2)


@pytest.fixture(scope="module")
def box_task(groups: tuple[np.ndarray, np.ndarray]) -> PointCloudTask:
    """A tiny PointFlow that has seen short and tall boxes long enough for its latent to
    carry the height (120 steps, a few seconds)."""
    torch.manual_seed(0)
    np.random.seed(0)
    values = {**TINY_POINTFLOW, "batch_size": 12, "train_points": 128, "val_shapes": 1}
    task = PointCloudTask(np.concatenate(groups), "pointflow", "quick", values)
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-2)
    for step in range(120):
        loss = task.training_step(step)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return task


def test_the_short_to_tall_vector_makes_a_short_box_taller(box_task, groups) -> None:
    short, tall = groups
    new_short = boxes(1, SHORT, seed=9)[0]  # not one of the groups
    edited = arithmetic.edit_shape(box_task, short, tall, new_short, [0.0, 0.5, 1.0], seed=0)
    assert edited.shape == (3, 128, 3) and np.isfinite(edited).all()
    heights = [height(c) for c in edited]
    assert heights == sorted(heights), heights  # taller with every step of strength
    assert heights[-1] - heights[0] > 0.3 * (height(tall[0]) - height(new_short))
    # the other way round: the tall-to-short vector shrinks a tall box
    shrunk = arithmetic.edit_shape(box_task, tall, short, tall[0], [0.0, 1.0], seed=0)
    assert height(shrunk[1]) < height(shrunk[0])


def test_strengths_share_the_point_noise(box_task, groups) -> None:
    """One noise draw for every strength: repeating a strength repeats the shape (to float
    rounding, which may differ between rows of one batch on some CPUs' vector kernels; a
    second noise draw would move points by tenths)."""
    short, tall = groups
    vector = arithmetic.attribute_vector(box_task, short, tall)
    twice = arithmetic.apply_attribute(box_task, short[0], vector, [0.7, 0.7], p=50, seed=3)
    np.testing.assert_allclose(twice[0], twice[1], rtol=0, atol=1e-5)
    moved = arithmetic.apply_attribute(box_task, short[0], vector, [0.0, 0.05], p=50, seed=3)
    assert 0 < np.abs(moved[1] - moved[0]).mean() < 0.2 * np.abs(moved[0]).mean()


def test_bad_input_is_named(box_task, groups, cnf_task) -> None:
    short, tall = groups
    with pytest.raises(BadInputError, match="strength"):
        arithmetic.edit_shape(box_task, short, tall, short[0], [float("nan")])
    with pytest.raises(BadInputError, match="strength"):
        arithmetic.edit_shape(box_task, short, tall, short[0], [arithmetic.MAX_STRENGTH + 1])
    with pytest.raises(BadInputError, match="'to' group"):
        arithmetic.edit_shape(box_task, short, tall[0], short[0], [1.0])
    with pytest.raises(BadInputError, match="one \\(P, 3\\) cloud"):
        arithmetic.edit_shape(box_task, short, tall, short, [1.0])
    with pytest.raises(BadInputError, match="attribute vector"):
        arithmetic.apply_attribute(box_task, short[0], np.zeros(3), [1.0])
    with pytest.raises(BadInputError, match="shape latent"):
        arithmetic.attribute_vector(cnf_task, short, tall)
