"""Morgan fingerprints and blockwise Tanimoto similarity for the MOSES metrics.

Fingerprints are Morgan (ECFP4-like) radius 2, 1024 bits, as MOSES uses for SNN and
IntDiv. Similarities are computed as a matrix product of bit arrays,
``T(a, b) = |a ∧ b| / (|a| + |b| - |a ∧ b|)``, in blocks so that 10k x 10k (or 10k x 100k)
never holds the whole matrix; two empty fingerprints count as identical (``0/0 = 1``, as in
MOSES). float32 counts are exact (at most 1024).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

MORGAN_RADIUS = 2
MORGAN_BITS = 1024
_BLOCK = 4096


def morgan_fingerprints(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """(N, 1024) uint8 bit array of Morgan radius-2 fingerprints."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    out = np.zeros((len(mols), MORGAN_BITS), dtype=np.uint8)
    for i, mol in enumerate(mols):
        out[i] = generator.GetFingerprintAsNumPy(mol)
    return out


def _tanimoto_block(a: torch.Tensor, a_count: torch.Tensor, b: torch.Tensor, b_count: torch.Tensor):
    both = a @ b.T
    union = a_count[:, None] + b_count[None, :] - both
    sim = both / union
    return torch.where(union > 0, sim, torch.ones_like(sim))


def _blocks(fps: np.ndarray, device: str):
    for start in range(0, len(fps), _BLOCK):
        block = torch.from_numpy(fps[start : start + _BLOCK]).to(device=device, dtype=torch.float32)
        yield start, block, block.sum(1)


def tanimoto_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full (len(a), len(b)) Tanimoto matrix; for small sets and tests."""
    ta = torch.from_numpy(a).float()
    tb = torch.from_numpy(b).float()
    return _tanimoto_block(ta, ta.sum(1), tb, tb.sum(1)).numpy().astype(np.float64)


def max_similarity(query: np.ndarray, reference: np.ndarray, device: str = "cpu") -> np.ndarray:
    """For each query fingerprint, the highest Tanimoto similarity to any reference one."""
    best = torch.zeros(len(query), dtype=torch.float32, device=device)
    for qs, q, qc in _blocks(query, device):
        for _, r, rc in _blocks(reference, device):
            sims = _tanimoto_block(q, qc, r, rc)
            best[qs : qs + len(q)] = torch.maximum(best[qs : qs + len(q)], sims.max(1).values)
    return best.cpu().numpy().astype(np.float64)


def mean_power_similarity(fps: np.ndarray, p: float = 1.0, device: str = "cpu") -> float:
    """Mean of ``T(x, y)**p`` over all ordered pairs of ``fps``, the ``x = y`` pairs included."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    for _, a, ac in _blocks(fps, device):
        for _, b, bc in _blocks(fps, device):
            sims = _tanimoto_block(a, ac, b, bc)
            total += (sims if p == 1 else sims.pow(p)).sum(dtype=torch.float64)
    return float(total.item()) / float(len(fps)) ** 2
