"""Averages over a progress window: the loss terms of the steps since the last report,
fetched from the device in one transfer, and NFE counts that may be missing."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def mean_terms(window: list[dict[str, Tensor]]) -> dict[str, float]:
    """The mean of each loss term over the steps of ``window`` (a term a step lacks is not
    counted for it), with one device-to-host transfer for the whole window."""
    names = list(dict.fromkeys(name for terms in window for name in terms))
    values = [terms[name].float().mean() for terms in window for name in names if name in terms]
    flat = torch.stack(values).cpu().tolist() if values else []
    sums: dict[str, list[float]] = {name: [] for name in names}
    it = iter(flat)
    for terms in window:
        for name in names:
            if name in terms:
                sums[name].append(next(it))
    return {name: float(np.mean(v)) for name, v in sums.items()}


def mean_present(values: list[Any]) -> float | None:
    """The mean of the values that are not ``None``; ``None`` when there are none."""
    present = [float(v) for v in values if v is not None]
    return float(np.mean(present)) if present else None
