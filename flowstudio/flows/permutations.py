"""Feature permutations: fixed random and reversed orders.

A permutation ``z = P x`` has ``|det P| = 1``, so ``log|det| = 0`` in both directions. Placed
between coupling or autoregressive layers, it lets every feature condition every other one
(Dinh et al. 2014 reverse the order; Papamakarios et al. 2017, MAF, and Kingma & Dhariwal
2018, Glow §3.2, compare reversing with a fixed random shuffle and a learned 1x1 map, which
is :class:`flowstudio.flows.glow.InvertibleLinear`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from flowstudio.flows.core import Transform


class Permutation(Transform):
    """Reorder the features: ``z[..., i] = x[..., permutation[i]]``."""

    def __init__(self, permutation: Tensor) -> None:
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        features = int(permutation.numel())
        super().__init__(features)
        if permutation.dim() != 1 or not torch.equal(torch.sort(permutation).values, torch.arange(features)):
            raise ValueError(f"not a permutation of 0..{features - 1}: {permutation.tolist()}")
        self.register_buffer("permutation", permutation)
        self.register_buffer("inverse_permutation", torch.argsort(permutation))

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return x.index_select(-1, self.permutation), x.new_zeros(x.shape[:-1])

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return z.index_select(-1, self.inverse_permutation), z.new_zeros(z.shape[:-1])


class RandomPermutation(Permutation):
    """A fixed random permutation, drawn once (from ``seed`` when given, else from torch's
    global generator) and stored as a buffer so a checkpoint restores it."""

    def __init__(self, features: int, seed: int | None = None) -> None:
        if seed is None:  # the global generator, so torch.manual_seed makes it reproducible
            perm = torch.randperm(int(features))
        else:
            perm = torch.randperm(int(features), generator=torch.Generator().manual_seed(int(seed)))
        super().__init__(perm)


class ReversePermutation(Permutation):
    """Reverse the order of the features."""

    def __init__(self, features: int) -> None:
        super().__init__(torch.arange(int(features) - 1, -1, -1))
