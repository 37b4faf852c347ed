"""Generation metrics for point clouds, following PointFlow's evaluation protocol.

Distances between two shapes (Achlioptas et al. 2018; Yang et al. 2019):

* Chamfer distance (CD), with squared Euclidean distances and the *sum* of the two means
  (PointFlow's ``distChamfer``: ``dl.mean(1) + dr.mean(1)``):
  ``CD(A, B) = mean_a min_b ||a - b||^2 + mean_b min_a ||a - b||^2``.
* Earth mover's distance (EMD): the mean Euclidean distance between matched points under
  the optimal one-to-one matching, ``EMD(A, B) = min_phi mean_a ||a - phi(a)||``. It is
  solved exactly (``scipy.optimize.linear_sum_assignment``) on a seeded random subsample
  of ``emd_points`` points per shape (default 256), taken at the same indices in every
  shape so that a shape keeps its subsample in every pair and equal shapes match.
  PointFlow used an approximate matching on all 2048 points; fewer points give somewhat
  larger values, so compare EMD numbers only at the same ``emd_points``.

Set-level scores from the matrices ``D[s, r]`` (sample s vs reference r):

* MMD (minimum matching distance): ``mean_r min_s D[s, r]`` — fidelity, lower is better.
* COV (coverage): the fraction of references that are the nearest reference of at least
  one sample — diversity, higher is better.
* 1-NNA: the leave-one-out accuracy of the 1-nearest-neighbour classifier that tells
  samples from references over their union, using the ref-ref, ref-sample and
  sample-sample matrices; 0.5 is ideal, 1.0 means the two sets are fully separable.

The reported numbers are the raw values (papers often print MMD-CD x 10^3 and MMD-EMD
x 10^2). Samples and references should be in the same frame, PointFlow's being the
data's own (after undoing the normalization).

The all-pairs Chamfer matrices are computed in torch, batched over pairs and tiled over
points so that the memory stays bounded (``memory_mb``), on the GPU when asked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import _emd_worker
from flowstudio.pointclouds._emd_worker import emd_exact as emd_exact  # re-exported

METRIC_KEYS = ("MMD-CD", "COV-CD", "1-NNA-CD", "MMD-EMD", "COV-EMD", "1-NNA-EMD")
DEFAULT_EMD_POINTS = 256

Progress = Callable[[float], None]


def _as_tensor(points: np.ndarray | Tensor, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(points) if not isinstance(points, Tensor) else points)
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[-1] != 3 or t.shape[0] == 0 or t.shape[1] == 0:
        raise BadInputError(f"{name}: expected point clouds of shape (N, P, 3), got {tuple(t.shape)}")
    t = t.detach().to(torch.float32)
    if not torch.isfinite(t).all():
        raise BadInputError(f"{name}: NaN or infinite coordinates")
    return t


def chamfer_distance(a: np.ndarray | Tensor, b: np.ndarray | Tensor) -> Tensor:
    """CD between (P, 3) and (Q, 3) clouds, or batches (B, P, 3) and (B, Q, 3) -> (B,)."""
    a_t, b_t = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    squeeze = a_t.ndim == 2
    if squeeze:
        a_t, b_t = a_t[None], b_t[None]
    d = ((a_t[:, :, None, :] - b_t[:, None, :, :]) ** 2).sum(-1)
    cd = d.amin(2).mean(1) + d.amin(1).mean(1)
    return cd[0] if squeeze else cd


def _augmented(points: Tensor) -> tuple[Tensor, Tensor]:
    """Rows ``[x, |x|^2, 1]`` and ``[-2y, 1, |y|^2]`` whose products are ``|x - y|^2``.

    One batched matrix product then yields whole squared-distance matrices.
    """
    sq = (points * points).sum(-1, keepdim=True)
    one = torch.ones_like(sq)
    return torch.cat([points, sq, one], -1), torch.cat([-2.0 * points, one, sq], -1)


def _pair_plan(n_x: int, n_y: int, symmetric: bool, device: torch.device) -> tuple[Tensor, Tensor]:
    if symmetric:
        ij = torch.triu_indices(n_x, n_x, offset=1, device=device)
        return ij[0], ij[1]
    return (
        torch.arange(n_x, device=device).repeat_interleave(n_y),
        torch.arange(n_y, device=device).repeat(n_x),
    )


def _default_memory_mb(device: torch.device) -> int:
    # A CPU tile that stays in L2/L3 is much faster than a big one streamed through RAM.
    return 2 if device.type == "cpu" else 512


def pairwise_cd(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor | None = None,
    *,
    device: str | torch.device | None = None,
    memory_mb: float | None = None,
    progress: Progress | None = None,
) -> Tensor:
    """The Chamfer matrix ``D[i, j] = CD(x_i, y_j)`` (N_x, N_y) on the CPU, float32.

    With ``y=None`` it is ``x`` against itself: only the upper triangle is computed and
    the diagonal is 0. Pairs are batched, and each batch's distance matrices are cut
    into column tiles of at most ``memory_mb`` (default: 2 MB on a CPU, 512 MB on a GPU).
    """
    symmetric = y is None
    xt = _as_tensor(x, "samples")
    yt = xt if y is None else _as_tensor(y, "references")
    dev = torch.device(device) if device is not None else xt.device
    # CD is translation invariant: centring the union keeps float32 products accurate.
    shift = torch.cat([xt.reshape(-1, 3), yt.reshape(-1, 3)]).mean(0)
    xa = _augmented((xt - shift).to(dev))[0]
    yb = _augmented((yt - shift).to(dev))[1]
    n_x, p = xa.shape[:2]
    n_y, q = yb.shape[:2]
    rows, cols = _pair_plan(n_x, n_y, symmetric, dev)
    budget = int((memory_mb or _default_memory_mb(dev)) * 2**20 / 4)  # float32 entries
    tile = max(1, min(q, budget // p))
    chunk = max(1, budget // (p * tile))
    values = torch.empty(len(rows), device=dev)
    with torch.no_grad():
        for start in range(0, len(rows), chunk):
            i, j = rows[start : start + chunk], cols[start : start + chunk]
            xs, ys = xa[i], yb[j]
            row_min = None
            col_means = torch.zeros(len(i), device=dev)
            for c0 in range(0, q, tile):
                d = torch.bmm(xs, ys[:, c0 : c0 + tile].transpose(1, 2))
                m = d.amin(2)
                row_min = m if row_min is None else torch.minimum(row_min, m)
                col_means += d.amin(1).clamp_min_(0).sum(1)
            assert row_min is not None
            values[start : start + len(i)] = row_min.clamp_min_(0).mean(1) + col_means / q
            if progress is not None:
                progress(min(1.0, (start + len(i)) / max(1, len(rows))))
    out = torch.zeros(n_x, n_y, device=dev)
    out[rows, cols] = values
    if symmetric:
        out[cols, rows] = values
    return out.cpu()


def _emd_subsets(points: Tensor, m: int, seed: int) -> np.ndarray:
    """``m`` points of each shape, at the same seeded random indices in every shape of
    that size, so that equal shapes keep equal subsets (points are unordered sets)."""
    arr = points.cpu().numpy().astype(np.float64)
    if arr.shape[1] == m:
        return arr
    idx = np.random.default_rng((seed, arr.shape[1])).choice(arr.shape[1], size=m, replace=False)
    return arr[:, np.sort(idx)]


def pairwise_emd(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor | None = None,
    *,
    n_points: int = DEFAULT_EMD_POINTS,
    seed: int = 0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Tensor:
    """The EMD matrix (N_x, N_y), exact on ``n_points`` random points per shape.

    The subsample is ``min(n_points, P_x, P_y)`` points, drawn once per shape with
    ``seed``; with ``y=None`` only the upper triangle is solved. ``workers`` processes
    share the assignments (default: one for small jobs, else up to 8, one per core).
    """
    xt = _as_tensor(x, "samples")
    yt = None if y is None else _as_tensor(y, "references")
    m = _emd_size(n_points, xt, xt if yt is None else yt)
    xs = _emd_subsets(xt, m, seed)
    ys = None if yt is None else _emd_subsets(yt, m, seed)
    return _emd_matrix(xs, ys, progress, workers)


def _emd_size(n_points: int, x: Tensor, y: Tensor) -> int:
    m = min(n_points, x.shape[1], y.shape[1])
    if m < 1:
        raise BadInputError(f"EMD needs at least one point per shape, got emd_points={n_points}")
    return m


def _auto_workers(n_pairs: int, m: int) -> int:
    """Worker processes for ``n_pairs`` assignments of size ``m``: one when the work is
    small enough (about ten seconds) that starting processes would not pay off."""
    seconds = n_pairs * 5e-10 * m**3  # linear_sum_assignment: about 8 ms at m = 256
    if seconds < 10:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(8, cpus))


def _emd_matrix(
    xs: np.ndarray, ys: np.ndarray | None, progress: Progress | None, workers: int | None = None
) -> Tensor:
    symmetric = ys is None
    ys = xs if ys is None else ys
    rows, cols = _pair_plan(len(xs), len(ys), symmetric, torch.device("cpu"))
    pairs = torch.stack([rows, cols], 1).numpy()
    total = max(1, len(pairs))
    workers = _auto_workers(len(pairs), xs.shape[1]) if workers is None else max(1, workers)
    if workers > 1 and len(pairs) >= 2 * workers:
        report = None if progress is None else (lambda done: progress(done / total))
        values = _emd_worker.solve_in_processes(xs, ys, pairs, workers, report)
    else:
        values = np.empty(len(pairs))
        for start in range(0, len(pairs), 64):
            values[start : start + 64] = _emd_worker.solve_pairs(xs, ys, pairs[start : start + 64])
            if progress is not None:
                progress(min(len(pairs), start + 64) / total)
    out = torch.zeros(len(xs), len(ys), dtype=torch.float64)
    out[rows, cols] = torch.from_numpy(values)
    if symmetric:
        out[cols, rows] = out[rows, cols]
    return out.to(torch.float32)


def mmd_cov(d_sample_ref: Tensor) -> tuple[float, float]:
    """MMD and COV from the (N_samples, N_refs) distance matrix (PointFlow's lgan_mmd_cov)."""
    mmd = d_sample_ref.amin(0).mean().item()
    nearest_ref = d_sample_ref.argmin(1)
    cov = nearest_ref.unique().numel() / d_sample_ref.shape[1]
    return float(mmd), float(cov)


def one_nn_accuracy(d_ref_ref: Tensor, d_ref_sample: Tensor, d_sample_sample: Tensor) -> float:
    """Leave-one-out 1-NN accuracy over references (label 1) and samples (label 0).

    PointFlow's ``knn(Mxx, Mxy, Myy, k=1)``: each point of the union takes the label of
    its nearest other point; the score is the fraction labelled correctly.
    """
    n_r, n_s = d_ref_ref.shape[0], d_sample_sample.shape[0]
    label = torch.cat([torch.ones(n_r), torch.zeros(n_s)])
    full = torch.cat(
        [torch.cat([d_ref_ref, d_ref_sample], 1), torch.cat([d_ref_sample.T, d_sample_sample], 1)], 0
    ).to(torch.float64)
    full.fill_diagonal_(math.inf)
    nearest = full.argmin(0)
    return float((label[nearest] == label).to(torch.float64).mean().item())


def _scores(kind: str, d_ss: Tensor, d_rr: Tensor, d_sr: Tensor) -> dict[str, float]:
    mmd, cov = mmd_cov(d_sr)
    nna = one_nn_accuracy(d_rr, d_sr.T, d_ss)
    return {f"MMD-{kind}": mmd, f"COV-{kind}": cov, f"1-NNA-{kind}": nna}


def evaluate(
    samples: np.ndarray | Tensor,
    refs: np.ndarray | Tensor,
    *,
    emd_points: int | None = DEFAULT_EMD_POINTS,
    device: str | torch.device | None = None,
    seed: int = 0,
    emd_workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, float | None]:
    """MMD, COV and 1-NNA for CD and EMD of ``samples`` (N, P, 3) against ``refs`` (M, Q, 3).

    Returns a dict with :data:`METRIC_KEYS`. ``emd_points=0`` or ``None`` skips EMD (its
    keys are then ``None``). ``device`` runs the Chamfer matrices there (e.g. ``"cuda"``);
    ``emd_workers`` processes solve the EMD assignments (default: automatic, see
    :func:`pairwise_emd`); ``progress`` receives the fraction done, from 0 to 1.
    """
    s = _as_tensor(samples, "samples")
    r = _as_tensor(refs, "references")
    if len(s) < 2 or len(r) < 2:
        raise BadInputError(
            f"evaluation needs at least 2 samples and 2 references, got {len(s)} and {len(r)}"
        )
    n_s, n_r = len(s), len(r)
    cd_pairs = n_s * n_r + (n_s * (n_s - 1) + n_r * (n_r - 1)) // 2
    with_emd = bool(emd_points)
    total = cd_pairs * (2 if with_emd else 1)
    done = [0]

    def stage(pairs: int) -> Progress | None:
        if progress is None:
            return None
        base = done[0]
        done[0] += pairs
        return lambda f: progress(min(1.0, (base + f * pairs) / total))

    d_sr = pairwise_cd(s, r, device=device, progress=stage(n_s * n_r))
    d_ss = pairwise_cd(s, device=device, progress=stage(n_s * (n_s - 1) // 2))
    d_rr = pairwise_cd(r, device=device, progress=stage(n_r * (n_r - 1) // 2))
    result: dict[str, float | None] = dict(_scores("CD", d_ss, d_rr, d_sr))
    if with_emd:
        assert emd_points is not None
        m = _emd_size(emd_points, s, r)
        s_sub, r_sub = _emd_subsets(s, m, seed), _emd_subsets(r, m, seed)
        e_sr = _emd_matrix(s_sub, r_sub, stage(n_s * n_r), emd_workers)
        e_ss = _emd_matrix(s_sub, None, stage(n_s * (n_s - 1) // 2), emd_workers)
        e_rr = _emd_matrix(r_sub, None, stage(n_r * (n_r - 1) // 2), emd_workers)
        result.update(_scores("EMD", e_ss, e_rr, e_sr))
    else:
        result.update({"MMD-EMD": None, "COV-EMD": None, "1-NNA-EMD": None})
    return {k: result[k] for k in METRIC_KEYS}
