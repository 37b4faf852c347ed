"""Base distributions for flows.

A :class:`Distribution` has ``log_prob(x, context)``, ``sample(n, context, temperature)``
(no gradient) and ``rsample`` (reparametrized, with gradient). Sampling at a
*temperature* ``T`` scales the standard deviation of the base by ``T``, the usual way of
trading diversity for fidelity in flows (Kingma & Dhariwal 2018, §5).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from flowstudio.flows._checks import check_context, check_features


def _check_temperature(temperature: float) -> float:
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    return temperature


def _batch_shape(n: int | tuple[int, ...], context: Tensor | None) -> tuple[int, ...]:
    """Sample shape: ``n`` items, or ``(B, n)`` items per context row when conditional."""
    shape = (n,) if isinstance(n, int) else tuple(n)
    if any(s < 0 for s in shape):
        raise ValueError(f"the number of samples must be >= 0, got {n}")
    if context is not None:
        return (context.shape[0], *shape)
    return shape


class Distribution(nn.Module):
    """A density over vectors of ``features`` values, optionally conditioned on a context."""

    def __init__(self, features: int, context_features: int = 0) -> None:
        super().__init__()
        self.features = int(features)
        self.context_features = int(context_features)

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """log p(x | context) for ``x`` of shape (*batch, features); returns shape ``batch``."""
        check_features(x, self.features)
        check_context(context, self.context_features, x.shape[:-1])
        return self._log_prob(x, context)

    def rsample(
        self, n: int | tuple[int, ...], context: Tensor | None = None, temperature: float = 1.0
    ) -> Tensor:
        """Reparametrized samples. Unconditional: shape (*n, features). Conditional with a
        (B, C) context: shape (B, *n, features)."""
        temperature = _check_temperature(temperature)
        self._check_sampling_context(context)
        return self._rsample(_batch_shape(n, context), context, temperature)

    def _check_sampling_context(self, context: Tensor | None) -> None:
        """A conditional distribution needs a (B, C) context; an unconditional one takes none."""
        check_context(context, self.context_features, context.shape[:-1] if context is not None else ())
        if context is not None and context.dim() != 2:
            raise ValueError(
                f"context for sampling must have shape (B, {self.context_features}), "
                f"got {tuple(context.shape)}"
            )

    @torch.no_grad()
    def sample(
        self, n: int | tuple[int, ...], context: Tensor | None = None, temperature: float = 1.0
    ) -> Tensor:
        """Samples without gradient; see :meth:`rsample` for shapes."""
        return self.rsample(n, context, temperature)

    def _log_prob(self, x: Tensor, context: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _rsample(self, shape: tuple[int, ...], context: Tensor | None, temperature: float) -> Tensor:
        raise NotImplementedError


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` over the last axis, unchecked: for a model's inner loop, where
    :meth:`Distribution.log_prob`'s finiteness check would cost a host-device sync a call."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))


class StandardNormal(Distribution):
    """N(0, I) over ``features`` dimensions."""

    def __init__(self, features: int) -> None:
        super().__init__(features)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def _log_prob(self, x: Tensor, context: Tensor | None) -> Tensor:
        return standard_normal_log_prob(x)

    def _rsample(self, shape: tuple[int, ...], context: Tensor | None, temperature: float) -> Tensor:
        a = self._anchor
        return temperature * torch.randn(*shape, self.features, device=a.device, dtype=a.dtype)


class DiagonalNormal(Distribution):
    """A Gaussian with a learnable mean and diagonal scale."""

    def __init__(self, features: int) -> None:
        super().__init__(features)
        self.loc = nn.Parameter(torch.zeros(features))
        self.log_scale = nn.Parameter(torch.zeros(features))

    def _log_prob(self, x: Tensor, context: Tensor | None) -> Tensor:
        z = (x - self.loc) * torch.exp(-self.log_scale)
        return -0.5 * (z.pow(2).sum(-1) + self.features * math.log(2 * math.pi)) - self.log_scale.sum()

    def _rsample(self, shape: tuple[int, ...], context: Tensor | None, temperature: float) -> Tensor:
        eps = torch.randn(*shape, self.features, device=self.loc.device, dtype=self.loc.dtype)
        return self.loc + temperature * eps * torch.exp(self.log_scale)


class ConditionalDiagonalNormal(Distribution):
    """A Gaussian whose mean and log-scale are a network of the context."""

    def __init__(self, features: int, context_features: int, hidden: int = 64) -> None:
        super().__init__(features, context_features)
        self.net = nn.Sequential(
            nn.Linear(context_features, hidden), nn.SiLU(), nn.Linear(hidden, 2 * features)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _params(self, context: Tensor, batch_shape: torch.Size) -> tuple[Tensor, Tensor]:
        from flowstudio.flows._checks import expand_context

        loc, log_scale = self.net(context).chunk(2, dim=-1)
        return expand_context(loc, batch_shape), expand_context(log_scale, batch_shape)

    def _log_prob(self, x: Tensor, context: Tensor | None) -> Tensor:
        assert context is not None
        loc, log_scale = self._params(context, x.shape[:-1])
        z = (x - loc) * torch.exp(-log_scale)
        return -0.5 * (z.pow(2).sum(-1) + self.features * math.log(2 * math.pi)) - log_scale.sum(-1)

    def _rsample(self, shape: tuple[int, ...], context: Tensor | None, temperature: float) -> Tensor:
        assert context is not None
        loc, log_scale = self._params(context, torch.Size(shape))
        eps = torch.randn_like(loc)
        return loc + temperature * eps * torch.exp(log_scale)
