"""PointNet encoder of a shape latent: q(z | X) for a point cloud X.

A shared per-point MLP (the 1x1 convolutions of PointNet, Qi et al. 2017) lifts each point
to a feature vector, a max pool over the points makes the code invariant to their order,
and a small MLP maps the pooled code to the mean and log-variance of a diagonal Gaussian
over the shape latent, as in PointFlow (Yang et al. 2019, §4 and its supplement):

    h_i = MLP_point(x_i),    g = max_i h_i,    (mu, log sigma^2) = MLP_head(g).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class PointNetEncoder(nn.Module):
    """Encode a (B, N, 3) point cloud into ``(mu, logvar)``, each of shape (B, latent_dim).

    Args:
        latent_dim: size of the shape latent z.
        point_hidden: widths of the shared per-point layers (PointFlow: 128-128-256-512).
        head_hidden: widths of the layers after the max pool (PointFlow: 256-128).
        batch_norm: normalize each per-point layer over the batch and the points.
    """

    def __init__(
        self,
        latent_dim: int,
        point_hidden: Sequence[int] = (128, 128, 256, 512),
        head_hidden: Sequence[int] = (256, 128),
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}")
        self.latent_dim = int(latent_dim)
        layers: list[nn.Module] = []
        width = 3
        for h in point_hidden:
            layers.append(nn.Conv1d(width, h, kernel_size=1))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            width = h
        # The last per-point layer stays linear before the pool, as in PointNet.
        if layers:
            layers.pop()
        self.point_mlp = nn.Sequential(*layers)
        head: list[nn.Module] = []
        for h in head_hidden:
            head += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.head = nn.Sequential(*head)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)
        # Start near the prior's scale: small means and unit variances.
        nn.init.zeros_(self.logvar.weight)
        nn.init.zeros_(self.logvar.bias)

    def forward(self, points: Tensor) -> tuple[Tensor, Tensor]:
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ValueError(f"points must have shape (B, N, 3), got {tuple(points.shape)}")
        h = self.point_mlp(points.transpose(1, 2))  # (B, C, N): Conv1d wants channels first
        g = h.max(dim=2).values
        g = self.head(g)
        return self.mu(g), self.logvar(g)

    @staticmethod
    def reparametrize(mu: Tensor, logvar: Tensor) -> Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a differentiable draw from q(z | X)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    @staticmethod
    def entropy(logvar: Tensor) -> Tensor:
        """Entropy of the diagonal Gaussian q(z | X) per shape: 0.5 * sum(1 + log 2 pi + logvar)."""
        return 0.5 * (logvar + 1.0 + math.log(2 * math.pi)).sum(-1)
