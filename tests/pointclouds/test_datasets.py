"""Data sets: PointFlow's normalization, splits and random point batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.datasets import Normalization, PointCloudDataset
from flowstudio.pointclouds.io import ShapeCollection


def shapes(n: int = 10, p: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, p, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.5]).astype(np.float32)


def test_dataset_normalization_is_pointflows_global_mean_and_std() -> None:
    x = shapes()
    norm = Normalization.fit(x, "dataset")
    y = norm.apply(x)
    np.testing.assert_allclose(y.reshape(-1, 3).mean(0), 0, atol=1e-5)
    assert abs(y.std() - 1) < 1e-5  # one std over all coordinates, not per axis
    np.testing.assert_allclose(norm.invert(y), x, atol=1e-4)
    t = torch.from_numpy(x)
    torch.testing.assert_close(norm.invert(norm.apply(t)), t, atol=1e-4, rtol=0)


def test_shape_normalization_centres_each_shape_in_the_unit_sphere() -> None:
    x = shapes()
    norm = Normalization.fit(x, "shape")
    y = norm.apply(x)
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(y, axis=2).max(1), 1, atol=1e-5)
    assert np.isfinite(norm.invert(y)).all()
    t = norm.apply(torch.from_numpy(x))
    np.testing.assert_allclose(t.numpy(), y, atol=1e-5)
    assert Normalization.fit(x, "none").apply(x) is x


def test_normalization_record_is_json_round_trippable() -> None:
    norm = Normalization.fit(shapes(), "dataset")
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm
    with pytest.raises(BadInputError, match="normalization must be one of"):
        Normalization.from_dict({"mode": "weird"})
    with pytest.raises(BadInputError, match="malformed"):
        Normalization.from_dict({"center": [1, 2]})


def test_split_from_collection_keeps_test_shapes_out_of_training() -> None:
    x = shapes(6)
    split = np.array(["train", "test", "train", "test", "train", "train"])
    names = [f"s{i}" for i in range(6)]
    ds = PointCloudDataset(ShapeCollection(x, names, split))
    assert ds.train_names == ["s0", "s2", "s4", "s5"] and ds.test_names == ["s1", "s3"]
    fitted = Normalization.fit(x[split == "train"])
    assert ds.normalization == fitted  # fitted on training shapes only
    torch.testing.assert_close(
        ds.reference_set("test"), torch.from_numpy(x[split == "test"]), atol=1e-4, rtol=0
    )
    assert not torch.isclose(ds.reference_set("test", data_frame=False), torch.from_numpy(x[[1, 3]])).all()


def test_seeded_random_split_is_reproducible() -> None:
    a = PointCloudDataset(shapes(20), test_fraction=0.25, seed=3)
    b = PointCloudDataset(shapes(20), test_fraction=0.25, seed=3)
    assert len(a.test) == 5 and a.test_names == b.test_names
    assert set(a.train_names).isdisjoint(a.test_names)
    assert PointCloudDataset(shapes(20), test_fraction=0.25, seed=4).test_names != a.test_names


def test_sample_batch_draws_random_point_subsets() -> None:
    ds = PointCloudDataset(shapes(8, 100), test_fraction=0.0)
    g = torch.Generator().manual_seed(0)
    batch = ds.sample_batch(4, 30, g)
    assert batch.shape == (4, 30, 3) and batch.dtype == torch.float32
    for cloud in batch:  # each row is a subset of one training shape, without repeats
        owner = [s for s in ds.train if all((s == p).all(1).any() for p in cloud)]
        assert len(owner) == 1 and len(torch.unique(cloud, dim=0)) == 30
    again = ds.sample_batch(4, 30, torch.Generator().manual_seed(0))
    torch.testing.assert_close(batch, again)
    # the points of the 30 smallest of 100 random keys, in order: the batches of runs that
    # sorted every key, so they resume on the same batches
    g = torch.Generator().manual_seed(0)
    rows = torch.randperm(8, generator=g)[:4]
    sorted_keys = torch.rand(4, 100, generator=g).argsort(dim=1)[:, :30]
    torch.testing.assert_close(batch, ds.train[rows[:, None], sorted_keys])
    assert ds.sample_batch(20, 150, g).shape == (20, 150, 3)  # more than held: with replacement


def test_single_shape_data_set_and_bad_splits() -> None:
    one = PointCloudDataset(shapes(1)[0])
    assert len(one.train) == 1 and len(one.test) == 0
    assert one.reference_set("test").shape == (1, 64, 3)  # falls back to the training shape
    with pytest.raises(BadInputError, match="no training shapes"):
        PointCloudDataset(shapes(2), split=np.array(["test", "test"]))
    with pytest.raises(BadInputError, match="no 'test' shapes"):
        one.sample_batch(2, 10, split="test")
