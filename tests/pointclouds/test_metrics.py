"""Metrics of the PointFlow protocol against hand-computed values and known regimes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import metrics


def test_chamfer_distance_by_hand() -> None:
    a = np.array([[0.0, 0, 0], [1, 0, 0]])
    b = np.array([[0.0, 0, 0], [0, 2, 0], [3, 0, 0]])
    # a -> b: 0 and 1 (mean 0.5); b -> a: 0, 4, 4 (mean 8/3); squared, summed.
    assert metrics.chamfer_distance(a, b).item() == pytest.approx(0.5 + 8 / 3)
    d = metrics.pairwise_cd(a[None], b[None])
    assert d.shape == (1, 1) and d.item() == pytest.approx(0.5 + 8 / 3, rel=1e-6)


def test_emd_by_hand_and_against_brute_force() -> None:
    a = np.array([[0.0, 0, 0], [1, 0, 0]])
    b = np.array([[1.0, 1, 0], [0, 1, 0]])
    assert metrics.emd_exact(a, b) == pytest.approx(1.0)  # straight up, not crossed
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    brute = min(np.linalg.norm(x - y[list(p)], axis=1).mean() for p in itertools.permutations(range(6)))
    assert metrics.emd_exact(x, y) == pytest.approx(brute)


def test_emd_in_worker_processes_matches_in_process() -> None:
    x, y = blobs(5, 0, points=40), blobs(4, 1, points=40)
    serial = metrics.pairwise_emd(x, y, n_points=32, workers=1)
    seen: list[float] = []
    parallel = metrics.pairwise_emd(x, y, n_points=32, workers=2, progress=seen.append)
    torch.testing.assert_close(parallel, serial)
    assert seen[-1] == 1.0
    xs, ys = (metrics._emd_subsets(torch.from_numpy(v), 32, seed=0) for v in (x, y))
    assert serial[0, 1].item() == pytest.approx(metrics.emd_exact(xs[0], ys[1]), rel=1e-6)


def test_pairwise_cd_matches_brute_force_for_any_tiling() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 70, 3, generator=g) * 3 + 10, torch.randn(4, 50, 3, generator=g)
    brute = torch.stack([torch.stack([metrics.chamfer_distance(a, b) for b in y]) for a in x]).float()
    for memory_mb in (None, 0.005, 0.05):  # many small tiles, or one batch
        torch.testing.assert_close(
            metrics.pairwise_cd(x, y, memory_mb=memory_mb), brute, atol=2e-5, rtol=1e-5
        )
    sym = metrics.pairwise_cd(x, memory_mb=0.005)
    brute_sym = torch.stack([torch.stack([metrics.chamfer_distance(a, b) for b in x]) for a in x]).float()
    torch.testing.assert_close(sym, brute_sym, atol=2e-5, rtol=1e-5)
    assert (sym.diagonal() == 0).all()


def test_mmd_and_cov_by_hand() -> None:
    d = torch.tensor([[1.0, 5.0], [2.0, 0.5], [3.0, 4.0]])  # 3 samples x 2 refs
    assert metrics.mmd_cov(d) == pytest.approx((0.75, 1.0))
    assert metrics.mmd_cov(torch.tensor([[1.0, 5.0], [2.0, 6.0]])) == pytest.approx(
        (3.0, 0.5)
    )  # refs: min(1, 2), min(5, 6)


def test_one_nn_accuracy_by_hand() -> None:
    def dist(u, v):
        return torch.tensor(np.abs(np.subtract.outer(u, v)), dtype=torch.float32)

    refs, near, far = np.array([0.0, 10.0]), np.array([0.1, 10.1]), np.array([100.0, 101.0])
    assert metrics.one_nn_accuracy(dist(refs, refs), dist(refs, near), dist(near, near)) == 0.0
    assert metrics.one_nn_accuracy(dist(refs, refs), dist(refs, far), dist(far, far)) == 1.0


def blobs(n: int, seed: int, radius: float = 1.0, points: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, points, 3))
    x /= np.linalg.norm(x, axis=2, keepdims=True)  # on a sphere
    return (x * radius * rng.uniform(0.8, 1.2, size=(n, 1, 1))).astype(np.float32)


def test_evaluate_identical_sets() -> None:
    x = blobs(12, 0)
    r = metrics.evaluate(x, x.copy(), emd_points=32)
    assert list(r) == list(metrics.METRIC_KEYS)
    assert r["COV-CD"] == 1.0 and r["COV-EMD"] == 1.0
    assert r["MMD-CD"] == pytest.approx(0.0, abs=1e-5) and r["MMD-EMD"] == pytest.approx(0.0, abs=1e-6)


def test_evaluate_same_distribution_vs_different() -> None:
    a, b = blobs(40, 1), blobs(40, 2)
    same = metrics.evaluate(a, b, emd_points=24)
    assert 0.3 <= same["1-NNA-CD"] <= 0.7 and 0.3 <= same["1-NNA-EMD"] <= 0.7
    far = metrics.evaluate(blobs(20, 3, radius=3.0), blobs(20, 4), emd_points=24)
    assert far["1-NNA-CD"] == 1.0 and far["1-NNA-EMD"] == 1.0
    assert far["MMD-CD"] > 10 * same["MMD-CD"]


def test_evaluate_options_and_bad_input() -> None:
    seen: list[float] = []
    r = metrics.evaluate(blobs(4, 0), blobs(5, 1), emd_points=0, progress=seen.append)
    assert r["MMD-EMD"] is None and r["MMD-CD"] > 0
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    bad = blobs(4, 0)
    bad[1, 2, 0] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        metrics.evaluate(bad, blobs(4, 1))
    with pytest.raises(BadInputError, match="at least 2"):
        metrics.evaluate(blobs(1, 0), blobs(4, 1))
    with pytest.raises(BadInputError, match=r"\(N, P, 3\)"):
        metrics.evaluate(np.zeros((3, 10, 2)), blobs(4, 1))
