"""Seeding and the random-number state a checkpoint carries, as tensors only.

A checkpoint is loaded with ``weights_only=True``, so the numpy and Python generator
states (tuples holding arrays and big integers) are stored as int64 tensors and rebuilt
on load. Restoring all four generators makes a resumed run continue exactly as an
uninterrupted one would on the CPU.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_state() -> dict[str, Tensor]:
    """The state of all global generators as a flat dict of tensors."""
    mt_name, keys, pos, has_gauss, cached = np.random.get_state()
    assert mt_name == "MT19937"
    version, py_state, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_meta": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_cached": torch.tensor([cached], dtype=torch.float64),
        "python_state": torch.tensor(py_state, dtype=torch.int64),
        "python_meta": torch.tensor([version, gauss_next is not None], dtype=torch.int64),
        "python_gauss": torch.tensor([gauss_next or 0.0], dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda_{index}"] = cuda_state
    return state


def restore_rng_state(state: dict[str, Tensor]) -> None:
    """Restore what :func:`capture_rng_state` returned (CUDA states only where present)."""
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    pos, has_gauss = (int(v) for v in state["numpy_meta"].tolist())
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_cached"][0])))
    version, has_next = (int(v) for v in state["python_meta"].tolist())
    gauss_next = float(state["python_gauss"][0]) if has_next else None
    random.setstate((version, tuple(int(v) for v in state["python_state"].tolist()), gauss_next))
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            cuda_state = state.get(f"cuda_{index}")
            if cuda_state is not None:
                torch.cuda.set_rng_state(cuda_state.to(torch.uint8).cpu(), index)


@contextlib.contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Run side computations (samples for display, validation) without moving the training
    generators, so that how often they run never changes the training trajectory."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, enabled=True):
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
