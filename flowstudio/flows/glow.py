"""Glow's ActNorm and LU-parametrized invertible linear map (Kingma & Dhariwal 2018).

"Glow: Generative Flow with Invertible 1x1 Convolutions" builds each step of flow from
three layers: an *ActNorm*, an *invertible 1x1 convolution* and an affine coupling. On
vectors (the last axis holds the features, every other axis is a batch axis) they read:

ActNorm (§3.1), a per-feature affine map

    z = (x + b) * exp(s),        log|det dz/dx| = sum_j s_j,

whose ``b`` and ``s`` are set by *data-dependent initialization* on the first forward batch
so that the outputs have zero mean and unit variance per feature; afterwards they are
ordinary parameters. Whether that initialization has happened is a persistent buffer, so a
model loaded from a checkpoint keeps its trained values instead of re-initializing.

Invertible linear map, the "1x1 convolution" for vectors (§3.2), ``z = W x`` with the LU
parametrization (§3.2, "LU decomposition")

    W = P L (U + diag(sign * exp(log|s|))),     log|det dz/dx| = sum_j log|s_j|,

where the permutation ``P`` and the signs are fixed at initialization (from the LU
decomposition of a random rotation), ``L`` is unit lower triangular and ``U`` strictly upper
triangular, both learned with ``log|s|``. The log-determinant costs O(D) and the inverse
two triangular solves.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows.core import Transform


class ActNorm(Transform):
    """Per-feature scale and shift with data-dependent initialization (Glow §3.1).

    The first call of the forward (data -> noise) direction sets ``bias = -mean`` and
    ``log_scale = -log(std)`` from its batch (statistics over every batch axis), so that
    batch comes out standardized. The flag :attr:`initialized` is a persistent buffer.
    Calling :meth:`inverse` first leaves the layer at the identity and uninitialized.
    """

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__(features)
        self.eps = float(eps)
        self.bias = nn.Parameter(torch.zeros(features))
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.register_buffer("initialized", torch.tensor(False))
        self._known_initialized = False  # caches the buffer: no device sync per call

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super()._load_from_state_dict(*args, **kwargs)
        self._known_initialized = False

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set the parameters so that ``x`` (..., features) maps to zero mean, unit variance."""
        flat = x.detach().reshape(-1, self.features)
        mean = flat.mean(0)
        self.bias.copy_(-mean.to(self.bias))
        if flat.shape[0] > 1:
            std = flat.std(0, unbiased=False)
            self.log_scale.copy_(-torch.log(std + self.eps).to(self.log_scale))
        self.initialized.fill_(True)

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        if not self._known_initialized:
            if not bool(self.initialized):
                self.initialize(x)
            self._known_initialized = True
        z = (x + self.bias) * torch.exp(self.log_scale)
        return z, self.log_scale.sum().expand(x.shape[:-1])

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        x = z * torch.exp(-self.log_scale) - self.bias
        return x, (-self.log_scale.sum()).expand(z.shape[:-1])


class InvertibleLinear(Transform):
    """``z = W x`` with ``W = P L (U + diag(sign * exp(log|s|)))`` (Glow's LU 1x1 map).

    Initialized from the LU decomposition of a random orthogonal matrix (drawn from torch's
    global generator), so it starts as a rotation with ``log|det| = 0``.
    """

    def __init__(self, features: int) -> None:
        super().__init__(features)
        q, _ = torch.linalg.qr(torch.randn(features, features, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("permutation", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(features, features), diagonal=-1))
        self.register_buffer("eye", torch.eye(features))
        self.lower = nn.Parameter((lower * self.lower_mask.double()).float())
        self.upper = nn.Parameter(torch.triu(upper, diagonal=1).float())
        self.log_abs_s = nn.Parameter(torch.log(s.abs()).float())

    def _factors(self) -> tuple[Tensor, Tensor]:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_abs_s))
        return lower, upper

    def weight(self) -> Tensor:
        """The matrix ``W``."""
        lower, upper = self._factors()
        return self.permutation @ lower @ upper

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        z = x @ self.weight().to(x.dtype).T
        return z, self.log_abs_s.sum().to(x.dtype).expand(x.shape[:-1])

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        lower, upper = (m.to(z.dtype) for m in self._factors())
        eye = self.eye.to(z.dtype)
        # W^-1 = U^-1 L^-1 P^T, from two triangular solves
        w_inv = torch.linalg.solve_triangular(
            upper,
            torch.linalg.solve_triangular(lower, eye, upper=False, unitriangular=True),
            upper=True,
        ) @ self.permutation.to(z.dtype).T
        return z @ w_inv.T, (-self.log_abs_s.sum()).to(z.dtype).expand(z.shape[:-1])
