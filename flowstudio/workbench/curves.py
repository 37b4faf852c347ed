"""How the loss chart reads training curves, as pure numpy (tested without Qt).

A run logs terms of very different size (an NLL in the thousands beside RNODE
regularizers near 0.01, NFE counts in the tens): on one linear axis most of them are flat
lines at the bottom. The chart offers three remedies, computed here:

- :func:`smooth`: an exponential moving average with bias correction (the "smoothing"
  slider of TensorBoard; Kingma & Ba 2015, §3, correct the same start-up bias in Adam),
  so the trend of a noisy minibatch loss shows;
- :func:`symlog` / :func:`symlog_inverse`: a log scale that also takes zero and negative
  values (an NLL in nats often goes below zero): sign(v)·log10(1 + |v|/τ), linear within
  about τ of zero and logarithmic beyond;
- :func:`value_range`: a padded range of the values that skips the first 2% of the run,
  whose initial spike would squash the rest (each pane of the chart gets its own).
"""

from __future__ import annotations

import math

import numpy as np


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """The bias-corrected exponential moving average of ``values`` with ``weight`` in
    [0, 1): s_t = w·s_{t-1} + (1-w)·x_t, divided by 1 - w^t; ``weight`` 0 returns them."""
    x = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(x) == 0:
        return x
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x):  # a recurrence: runs over a few thousand points at most
        acc = weight * acc + (1 - weight) * v
        out[i] = acc / (1 - weight ** (i + 1))
    return out


def symlog_scale(values: np.ndarray) -> float:
    """τ of :func:`symlog` for these values: 1% of their median magnitude (at least 1e-12)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v) & (v > 0)]
    return max(1e-12, 0.01 * float(np.median(v))) if v.size else 1.0


def symlog(values: np.ndarray, tau: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.log10(1 + np.abs(v) / tau)


def symlog_inverse(y: np.ndarray | float, tau: float) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return np.sign(y) * tau * (10 ** np.abs(y) - 1)


def symlog_ticks(lo: float, hi: float, tau: float, count: int = 6) -> list[float]:
    """Tick positions (in symlog units) between ``lo`` and ``hi`` at 0 and ±10^k, thinned
    to at most ``count`` (every second, third, … decade)."""
    top = float(np.max(np.abs(symlog_inverse(np.array([lo, hi]), tau))))
    first = math.floor(math.log10(tau))
    last = math.ceil(math.log10(max(top, tau)))
    values = [0.0] + [sign * 10.0**k for k in range(first, last + 1) for sign in (1, -1)]
    ticks = sorted(float(symlog(np.array(v), tau)) for v in values)
    ticks = [t for t in ticks if lo <= t <= hi]
    stride = max(1, math.ceil(len(ticks) / count))
    return ticks[::stride]


def value_range(series: list[np.ndarray], skip: float = 0.02) -> tuple[float, float] | None:
    """A padded (lo, hi) over ``series``, each without its first ``skip`` share; ``None``
    when there are no finite values."""
    lo, hi = math.inf, -math.inf
    for values in series:
        v = np.asarray(values, dtype=np.float64)
        if not len(v):
            continue
        v = v[min(len(v) - 1, int(len(v) * skip)) :]
        v = v[np.isfinite(v)]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if not math.isfinite(lo):
        return None
    pad = (hi - lo) * 0.06 or max(abs(hi) * 0.05, 1e-3)
    return lo - pad, hi + pad
