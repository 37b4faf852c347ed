"""Exact EMD of shape pairs, in this process or in worker processes.

scipy's ``linear_sum_assignment`` holds the GIL, so threads do not help; a large
evaluation shares its pairs among plain subprocesses (``python -m`` this module, numpy and
scipy only). Plain subprocesses, unlike multiprocessing's spawn, never re-run the
caller's main script, and unlike fork they are safe from threaded programs (the GUI).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def emd_exact(a: np.ndarray, b: np.ndarray) -> float:
    """EMD between two clouds of equal size: the mean matched Euclidean distance."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"EMD needs clouds of equal size, got {a.shape} and {b.shape}")
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def solve_pairs(xs: np.ndarray, ys: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """EMD of each row ``(i, j)`` of ``pairs``: ``xs[i]`` against ``ys[j]``."""
    return np.array([emd_exact(xs[i], ys[j]) for i, j in pairs], dtype=np.float64)


def solve_in_processes(
    xs: np.ndarray,
    ys: np.ndarray,
    pairs: np.ndarray,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """:func:`solve_pairs` split over ``workers`` subprocesses (2 chunks each)."""
    chunks = [c for c in np.array_split(pairs, workers * 2) if len(c)]
    out = np.empty(len(pairs), dtype=np.float64)
    with tempfile.TemporaryDirectory(prefix="flowstudio-emd-") as tmp:
        folder = Path(tmp)
        np.save(folder / "xs.npy", xs)
        np.save(folder / "ys.npy", ys)
        pending = list(enumerate(chunks))
        running: list[tuple[int, subprocess.Popen[bytes]]] = []
        starts = np.cumsum([0] + [len(c) for c in chunks])
        done = 0
        try:
            while pending or running:
                while pending and len(running) < workers:
                    k, chunk = pending.pop(0)
                    np.save(folder / f"pairs{k}.npy", chunk)
                    cmd = [sys.executable, "-m", __name__, str(folder), str(k)]
                    running.append((k, subprocess.Popen(cmd, stderr=subprocess.PIPE)))
                k, proc = running.pop(0)
                _, err = proc.communicate()
                if proc.returncode != 0:
                    raise RuntimeError(f"EMD worker failed: {err.decode(errors='replace').strip()[-500:]}")
                out[starts[k] : starts[k + 1]] = np.load(folder / f"emd{k}.npy")
                done += len(chunks[k])
                if progress is not None:
                    progress(done)
        finally:
            for _, proc in running:
                proc.kill()
                proc.wait()
    return out


def _main(folder: str, k: str) -> None:
    root = Path(folder)
    xs, ys = np.load(root / "xs.npy"), np.load(root / "ys.npy")
    result = solve_pairs(xs, ys, np.load(root / f"pairs{k}.npy"))
    np.save(root / f"emd{k}.tmp.npy", result)
    (root / f"emd{k}.tmp.npy").replace(root / f"emd{k}.npy")


if __name__ == "__main__":
    _main(*sys.argv[1:3])
