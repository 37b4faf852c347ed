"""Parametrized transforms: invertible maps whose parameters are tensors, one set per row.

The tier below :class:`~flowstudio.flows.core.Transform` (as ``zuko.transforms`` sits below
``zuko.flows``): a :class:`ParametrizedTransform` holds no weights, only the parameters a
conditioner computed for each row of a batch, and maps ``x -> (z, log|det dz/dx|)`` with an
exact inverse. A conditional transform module computes its parameters from a context once
(:meth:`flowstudio.flows.conditional_affine.ConditionalAffineStack.at`), and the result is applied in
either direction, or to a subset of the rows (:meth:`ParametrizedTransform.select`), without
running the conditioner again: what an autoregressive model that encodes and decodes the
same step needs (GraphAF, :mod:`flowstudio.molecules.graphaf`).

Parameters have shape ``(*batch, ...)`` and data ``(*batch, d)``; the batch axes match.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor


class ParametrizedTransform:
    """An invertible map of ``(*batch, d)`` tensors with per-row parameters."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to noise: ``(z, log|det dz/dx|)``, the latter of shape ``batch``."""
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Noise to data: ``(x, log|det dx/dz|)``."""
        raise NotImplementedError

    def select(self, index: Tensor) -> ParametrizedTransform:
        """The transform of the rows ``index`` (first batch axis) alone."""
        raise NotImplementedError


@dataclass(frozen=True)
class AffineLayers(ParametrizedTransform):
    """``L`` element-wise affine layers applied in turn, ``x -> x * exp(a_l) + b_l``
    (the affine coupling of Dinh et al. 2017 with the whole vector transformed; GraphAF's
    step flow, Shi et al. 2020, Eq. 7-8).

    ``log_scale`` and ``shift`` have shape ``(*batch, L, d)``; ``log|det J| = sum a_l``.
    """

    log_scale: Tensor
    shift: Tensor

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        for layer in range(self.log_scale.shape[-2]):
            x = x * self.log_scale[..., layer, :].exp() + self.shift[..., layer, :]
        return x, self.log_scale.sum(dim=(-2, -1))

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        for layer in reversed(range(self.log_scale.shape[-2])):
            z = (z - self.shift[..., layer, :]) * (-self.log_scale[..., layer, :]).exp()
        return z, -self.log_scale.sum(dim=(-2, -1))

    def select(self, index: Tensor) -> AffineLayers:
        return AffineLayers(self.log_scale[index], self.shift[index])


@cache
def rotation_pairs(dim: int) -> tuple[tuple[int, int], ...]:
    """The coordinate pairs ``(p, q)``, ``p < q``, one Givens rotation each, in order."""
    return tuple((p, q) for p in range(dim) for q in range(p + 1, dim))


@dataclass(frozen=True)
class GivensRotation(ParametrizedTransform):
    """A rotation ``Q`` of the ``d`` coordinates: the product of one Givens rotation per
    coordinate pair (in :func:`rotation_pairs` order), with ``angles`` of shape
    ``(*batch, d(d-1)/2)``. Any rotation of ``SO(d)`` is such a product (Golub & Van Loan,
    *Matrix Computations*, §5.1.8). ``|det Q| = 1`` and ``Q^-1 = Q^T``, so the inverse is exact
    whatever the angles (a triangular map would have to be solved, and its error can grow
    exponentially in ``d``).
    """

    angles: Tensor

    def _apply(self, x: Tensor, inverse: bool) -> Tensor:
        cos, sin = self.angles.cos(), self.angles.sin()
        cols = list(x.unbind(-1))
        pairs = list(enumerate(rotation_pairs(x.shape[-1])))
        for k, (p, q) in reversed(pairs) if inverse else pairs:
            c, s = cos[..., k], (-sin[..., k] if inverse else sin[..., k])
            cols[p], cols[q] = c * cols[p] - s * cols[q], s * cols[p] + c * cols[q]
        return torch.stack(cols, dim=-1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._apply(x, inverse=False), x.new_zeros(x.shape[:-1])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self._apply(z, inverse=True), z.new_zeros(z.shape[:-1])

    def select(self, index: Tensor) -> GivensRotation:
        return GivensRotation(self.angles[index])


@dataclass(frozen=True)
class Chain(ParametrizedTransform):
    """Parametrized transforms applied one after another; log-determinants add up."""

    parts: tuple[ParametrizedTransform, ...]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total: Tensor | None = None
        for part in self.parts:
            x, logdet = part.forward(x)
            total = logdet if total is None else total + logdet
        assert total is not None
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        total: Tensor | None = None
        for part in reversed(self.parts):
            z, logdet = part.inverse(z)
            total = logdet if total is None else total + logdet
        assert total is not None
        return z, total

    def select(self, index: Tensor) -> Chain:
        return Chain(tuple(part.select(index) for part in self.parts))
