"""GraphAF's per-step affine flows: a conditioned rotation, then element-wise layers.

Each generation step of :class:`flowstudio.molecules.graphaf.GraphAF` maps its dequantized
one-hot choice ``x`` to a latent ``z`` with ``z = f_L(... f_1(Q x))``, ``f_l(y) = y *
exp(a_l) + b_l`` (Shi et al. 2020, Eq. 7-8; the rotation ``Q`` is FlowStudio's addition,
see :class:`StepTransform`). Moved out of ``graphaf.py`` unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

_LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` summed over the last dimension."""
    return -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=-1)


def _rotation_pairs(dim: int) -> list[tuple[int, int]]:
    return [(p, q) for p in range(dim) for q in range(p + 1, dim)]


def _rotate(x: Tensor, cos: Tensor, sin: Tensor, inverse: bool) -> Tensor:
    """Apply the product of Givens rotations (one per coordinate pair, angles given by
    ``cos``/``sin`` (n, d(d-1)/2)) to ``x`` (n, d), or its inverse, the transposed product."""
    dim = x.shape[-1]
    cols = list(x.unbind(-1))
    pairs = list(enumerate(_rotation_pairs(dim)))
    for k, (p, q) in reversed(pairs) if inverse else pairs:
        c, s = cos[:, k], (-sin[:, k] if inverse else sin[:, k])
        cols[p], cols[q] = c * cols[p] - s * cols[q], s * cols[p] + c * cols[q]
    return torch.stack(cols, dim=-1)


@dataclass
class StepTransform:
    """The affine flow of a batch of steps, from their conditions: data ``x`` (n, d) to
    latent ``z`` (n, d) is ``z = f_L(... f_1(Q x))`` with ``f_l(y) = y * exp(a_l) + b_l``.

    ``scale`` and ``shift`` (n, L, d) are the ``a_l, b_l``; ``angles`` (n, d(d-1)/2) give
    the rotation ``Q``, a product of one Givens rotation per pair of coordinates, or are
    ``None`` (``Q = I``: the paper's element-wise flow). With ``Q`` the step's Gaussian over
    ``x`` has a full covariance ``Q^T diag(.) Q`` instead of a diagonal one. A rotation has
    unit determinant and is inverted exactly by its transpose, so decoding an encoding
    stays exact whatever the weights (a triangular mixing would have to be solved, and its
    error can grow exponentially in ``d``).
    """

    scale: Tensor
    shift: Tensor
    angles: Tensor | None = None

    def __getitem__(self, index: Tensor) -> StepTransform:
        angles = None if self.angles is None else self.angles[index]
        return StepTransform(self.scale[index], self.shift[index], angles)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to latent: ``z`` (n, d) and ``log|det J|`` (n,)."""
        if self.angles is not None:
            x = _rotate(x, self.angles.cos(), self.angles.sin(), inverse=False)
        for layer in range(self.scale.shape[1]):
            x = x * self.scale[:, layer].exp() + self.shift[:, layer]
        return x, self.scale.sum(dim=(1, 2))

    def inverse(self, z: Tensor) -> Tensor:
        """Latent to data."""
        for layer in reversed(range(self.scale.shape[1])):
            z = (z - self.shift[:, layer]) * (-self.scale[:, layer]).exp()
        if self.angles is None:
            return z
        return _rotate(z, self.angles.cos(), self.angles.sin(), inverse=True)


class ConditionalAffineStack(nn.Module):
    """``L`` affine layers ``x -> x * exp(a_l) + b_l`` whose parameters are MLPs of a
    condition (GraphAF's "ST nets", one per layer), optionally after a conditioned
    rotation of the ``d`` dimensions (see :class:`StepTransform`).

    All ``L`` MLPs are evaluated together: their first layers are one ``Linear`` (applied
    by the caller, so that it can be split over the parts of the condition) and their
    second layers one batched matmul. The rotation angles are a linear read-out of all
    ``L`` hidden layers. The last layers start at zero: an untrained stack is the identity.
    """

    def __init__(
        self, dim: int, num_layers: int, hidden: int, scale_bound: float, mixing: bool = False
    ) -> None:
        super().__init__()
        self.dim, self.num_layers, self.hidden = dim, num_layers, hidden
        self.scale_bound = scale_bound
        self.out_weight = nn.Parameter(torch.zeros(num_layers, hidden, 2 * dim))
        self.out_bias = nn.Parameter(torch.zeros(num_layers, 2 * dim))
        self.angles_out: nn.Linear | None = None
        if mixing:
            self.angles_out = nn.Linear(num_layers * hidden, dim * (dim - 1) // 2)
            nn.init.zeros_(self.angles_out.weight)
            nn.init.zeros_(self.angles_out.bias)

    def parameters_from(self, pre_activation: Tensor) -> StepTransform:
        """The flow of each step from the first layers' output (n, L * hidden)."""
        flat = torch.relu(pre_activation)
        h = flat.view(-1, self.num_layers, self.hidden)
        out = torch.einsum("nlh,lho->nlo", h, self.out_weight) + self.out_bias
        raw_scale, shift = out.split(self.dim, dim=-1)
        scale = self.scale_bound * torch.tanh(raw_scale / self.scale_bound)
        angles = None if self.angles_out is None else self.angles_out(flat)
        return StepTransform(scale, shift, angles)

    @staticmethod
    def forward_transform(x: Tensor, scale: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
        """The element-wise layers alone (the paper's flow): data to latent."""
        return StepTransform(scale, shift).forward(x)

    @staticmethod
    def inverse_transform(z: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        """The element-wise layers alone: latent to data."""
        return StepTransform(scale, shift).inverse(z)
