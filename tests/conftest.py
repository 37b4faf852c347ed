"""Shared test set-up: deterministic seeds and one torch thread per test process.

One thread: CI has two cores, shared with pytest-xdist's workers and the X server, and
torch's intra-op threads only fight each other there (measured: 5-30x slower steps).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
