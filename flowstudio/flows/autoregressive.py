"""Affine autoregressive flows: MADE, MAF and IAF.

MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation") makes an
MLP autoregressive by masking its weights. Each input ``i`` gets degree ``i`` (1..D), each
hidden unit a degree in ``1..D-1``; a hidden unit of degree ``k`` sees the units of the layer
below of degree ``<= k``, and an output of degree ``i`` sees the hidden units of degree
``< i``, so output ``i`` depends on ``x_<i`` only. A context vector feeds the first hidden
layer unmasked, which keeps the autoregressive property in ``x`` (conditional MADE).

MAF (Papamakarios, Pavlakou & Murray 2017, "Masked Autoregressive Flow for Density
Estimation") uses it as the conditioner of an affine map in the density direction,

    z_i = (x_i - mu_i(x_<i, c)) * exp(-alpha_i(x_<i, c)),    log|det dz/dx| = -sum_i alpha_i,

so ``log p(x)`` costs one pass, while sampling ``x_i = z_i exp(alpha_i) + mu_i`` must
produce ``x`` one coordinate at a time: D passes.

IAF (Kingma et al. 2016, "Improved Variational Inference with Inverse Autoregressive Flow")
is the same map with the directions swapped: the conditioner reads the *noise*,

    x_i = z_i * exp(alpha_i(z_<i, c)) + mu_i(z_<i, c),       log|det dx/dz| = sum_i alpha_i,

so sampling (and the density of its own samples) is one pass, and the density of given data
takes D passes. Log-scales are soft-clamped, ``alpha = b tanh(raw / b)``, for stability, and
the MADE's last layer starts at zero so each layer starts as the identity.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowstudio.flows._checks import expand_context
from flowstudio.flows.core import Transform
from flowstudio.flows.nets import activation, soft_clamp


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed binary mask."""

    def __init__(self, mask: Tensor, context_features: int = 0) -> None:
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.float())
        self.context = nn.Linear(context_features, out_features, bias=False) if context_features else None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        out = F.linear(x, self.weight * self.mask, self.bias)
        if self.context is not None and context is not None:
            out = out + self.context(context)
        return out


def made_degrees(features: int, hidden: int, num_hidden_layers: int) -> list[Tensor]:
    """Degrees of the input and of each hidden layer (inputs 1..D, hidden units 1..D-1 cyclic;
    all 0 when D = 1, so the hidden units see only the context)."""
    degrees = [torch.arange(1, features + 1)]
    for _ in range(num_hidden_layers):
        if features > 1:
            degrees.append(torch.arange(hidden) % (features - 1) + 1)
        else:
            degrees.append(torch.zeros(hidden, dtype=torch.long))
    return degrees


class MADE(nn.Module):
    """A masked MLP ``(x, c) -> params`` of shape (..., features, params_per_feature) whose
    outputs for feature ``i`` depend only on ``x_<i`` (and on the context).

    Args:
        features: number of autoregressive inputs.
        params_per_feature: outputs per feature (2 for shift and log-scale).
        hidden: width of the hidden layers.
        num_hidden_layers: depth (>= 1).
        context_features: size of the conditioning vector, 0 for none.
        activation_name: see :func:`flowstudio.flows.nets.activation`.
        zero_init: start the outputs at 0.
    """

    def __init__(
        self,
        features: int,
        params_per_feature: int = 2,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        context_features: int = 0,
        activation_name: str = "silu",
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        if num_hidden_layers < 1:
            raise ValueError(f"num_hidden_layers must be >= 1, got {num_hidden_layers}")
        self.features = int(features)
        self.params_per_feature = int(params_per_feature)
        self.context_features = int(context_features)
        degrees = made_degrees(features, hidden, num_hidden_layers)
        layers = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(degrees)):
            mask = d_out[:, None] >= d_in[None, :]
            layers.append(MaskedLinear(mask, context_features if i == 0 else 0))
        self.hidden_layers = nn.ModuleList(layers)
        out_degrees = torch.arange(1, features + 1).repeat_interleave(params_per_feature)
        self.output = MaskedLinear(out_degrees[:, None] > degrees[-1][None, :])
        if zero_init:
            nn.init.zeros_(self.output.weight)
            nn.init.zeros_(self.output.bias)
        self.act = activation(activation_name)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        ctx = None
        if self.context_features:
            if context is None:
                raise ValueError(
                    f"this MADE is conditional: pass a context of shape (B, {self.context_features})"
                )
            ctx = expand_context(context, x.shape[:-1]).to(x.dtype)
        h = x
        for i, layer in enumerate(self.hidden_layers):
            h = self.act(layer(h, ctx if i == 0 else None))
        out = self.output(h)
        return out.reshape(*out.shape[:-1], self.features, self.params_per_feature)


class _AffineAutoregressive(Transform):
    """Shared parts of MAF and IAF: a MADE giving ``(mu, alpha)`` and the two directions of
    the map ``v = (u - mu(w)) exp(-alpha(w))`` where ``w`` is the autoregressive side."""

    def __init__(
        self,
        features: int,
        context_features: int = 0,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        clamp: float = 3.0,
    ) -> None:
        super().__init__(features, context_features)
        if not clamp > 0:
            raise ValueError(f"clamp must be > 0, got {clamp}")
        self.clamp = float(clamp)
        self.made = MADE(features, 2, hidden, num_hidden_layers, context_features)

    def _mu_alpha(self, w: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        out = self.made(w, context)
        return out[..., 0], soft_clamp(out[..., 1], self.clamp)

    def _normalize_one_pass(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """z = (x - mu(x)) exp(-alpha(x)): conditioner on the input side, one pass."""
        mu, alpha = self._mu_alpha(x, context)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(-1)

    def _denormalize_sequential(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """Invert the above: x_i = z_i exp(alpha_i(x_<i)) + mu_i(x_<i), D passes."""
        x = torch.zeros_like(z)
        alpha = torch.zeros_like(z)
        for _ in range(self.features):
            mu, alpha = self._mu_alpha(x, context)
            x = z * torch.exp(alpha) + mu
        return x, alpha.sum(-1)

    def _denormalize_one_pass(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """x = z exp(alpha(z)) + mu(z): conditioner on the input side, one pass."""
        mu, alpha = self._mu_alpha(z, context)
        return z * torch.exp(alpha) + mu, alpha.sum(-1)

    def _normalize_sequential(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """Invert the above: z_i = (x_i - mu_i(z_<i)) exp(-alpha_i(z_<i)), D passes."""
        z = torch.zeros_like(x)
        alpha = torch.zeros_like(x)
        for _ in range(self.features):
            mu, alpha = self._mu_alpha(z, context)
            z = (x - mu) * torch.exp(-alpha)
        return z, -alpha.sum(-1)


class MAF(_AffineAutoregressive):
    """Masked autoregressive flow layer: density in one pass, sampling in D passes.

    Args:
        features: number of features.
        context_features: size of the conditioning vector, 0 when unconditional.
        hidden, num_hidden_layers: size of the MADE.
        clamp: bound of the soft clamp on log-scales.
    """

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._normalize_one_pass(x, context)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._denormalize_sequential(z, context)


class IAF(_AffineAutoregressive):
    """Inverse autoregressive flow layer: sampling in one pass, density of data in D passes.

    Same arguments as :class:`MAF`.
    """

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._normalize_sequential(x, context)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._denormalize_one_pass(z, context)
