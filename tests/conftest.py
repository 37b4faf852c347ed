"""Shared test set-up: deterministic seeds and a bounded thread count on shared CI cores."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
