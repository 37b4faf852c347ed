"""An invertible batch normalization with moving averages (Dinh et al. 2016, §3.7).

RealNVP and MAF use batch normalization as a bijection; PointFlow (Yang et al. 2019,
"PointFlow: 3D Point Cloud Generation with Continuous Normalizing Flows") puts the same
"moving batch norm" between its CNF blocks. In the data -> noise direction,

    z = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta,
    log|det dz/dx| = sum_j [ log_gamma_j - 0.5 * log(var_j + eps) ],

where in *training* mode ``mu, var`` are the statistics of the current batch (over every
batch axis, so a (B, N, 3) point cloud is normalized over all its B*N points) and the
running averages are updated with ``running <- (1 - momentum) * running + momentum * batch``;
in *eval* mode ``mu, var`` are the running averages, which makes the map a fixed affine
bijection. The inverse (noise -> data) always uses the running averages, so it is the exact
inverse of the eval-mode forward map: sampling never depends on a batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows.core import Transform


class MovingBatchNorm(Transform):
    """Invertible batch norm over the last axis with running mean and variance.

    Args:
        features: number of features.
        momentum: weight of the current batch in the running averages.
        eps: added to the variance for stability.
        affine: learn ``log_gamma`` and ``beta`` (initialized to the identity).
    """

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-4, affine: bool = True) -> None:
        super().__init__(features)
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.affine = bool(affine)
        self.log_gamma = nn.Parameter(torch.zeros(features), requires_grad=affine)
        self.beta = nn.Parameter(torch.zeros(features), requires_grad=affine)
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not self.training:
            return self.running_mean.to(x.dtype), self.running_var.to(x.dtype)
        flat = x.reshape(-1, self.features)
        mean = flat.mean(0)
        var = flat.var(0, unbiased=False) if flat.shape[0] > 1 else torch.zeros_like(mean)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach().to(self.running_mean))
            self.running_var.mul_(1 - m).add_(m * var.detach().to(self.running_var))
        return mean, var

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        mean, var = self._stats(x)
        log_scale = self.log_gamma - 0.5 * torch.log(var + self.eps)
        z = (x - mean) * torch.exp(log_scale) + self.beta
        return z, log_scale.sum().expand(x.shape[:-1])

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        mean, var = self.running_mean.to(z.dtype), self.running_var.to(z.dtype)
        log_scale = self.log_gamma - 0.5 * torch.log(var + self.eps)
        x = (z - self.beta) * torch.exp(-log_scale) + mean
        return x, (-log_scale.sum()).expand(z.shape[:-1])
