"""Planar and radial flows (Rezende & Mohamed 2015, "Variational Inference with Normalizing
Flows", §4.1 and appendix A.1).

Both are applied here in the data -> noise (density) direction, where they are explicit and
their log-determinant is closed-form; the noise -> data direction (sampling) inverts them by a
vectorized scalar root-find.

Planar flow, with ``h = tanh``:

    z = x + u_hat * h(w.x + b),     log|det dz/dx| = log|1 + (u_hat.w) h'(w.x + b)|.

It is invertible iff ``u_hat.w >= -1``; following the paper's appendix the free vector ``u``
is mapped to ``u_hat = u + (m(w.u) - w.u) w / |w|^2`` with ``m(a) = -1 + softplus(a)``, so
``u_hat.w = m(w.u) > -1``. Inverse: the part of ``x`` off ``w`` is read off ``z``; along ``w``
the scalar ``a = w.x`` solves ``w.z = a + (u_hat.w) tanh(a + b)``, whose right-hand side is
strictly increasing in ``a``, and the root lies in ``[w.z - |u_hat.w|, w.z + |u_hat.w|]``. It is
bracketed by bisection, all samples at once, to the resolution of the dtype; gradients flow
through the root by the implicit function theorem, ``da = -dg / g'(a)``. Then
``x = z - u_hat tanh(a + b)``. (Near ``u_hat.w = -1`` the map flattens along ``w`` and any
inverse loses digits, ~eps / (1 + u_hat.w h'); compute in float64 there.)

Radial flow, with ``r = |x - x0|`` and ``h(alpha, r) = 1 / (alpha + r)``:

    z = x + beta h (x - x0),
    log|det dz/dx| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r)
                   = (D - 1) log(1 + beta h) + log(1 + alpha beta / (alpha + r)^2),

invertible for ``alpha > 0`` and ``beta >= -alpha``: ``alpha = softplus(alpha_raw)`` and
``beta = -alpha + softplus(beta_raw)``. ``z - x0`` is parallel to ``x - x0``, so the inverse is a
root-find along ``r`` alone: ``|z - x0| = r (1 + beta / (alpha + r))`` is the quadratic
``r^2 + (alpha + beta - |z - x0|) r - alpha |z - x0| = 0`` with exactly one root ``r >= 0``,
taken in closed form with the cancellation-free variant of the quadratic formula.

Conditional variants add a zero-initialized network of the context to the parameters
(``u, w, b`` or ``x0, alpha_raw, beta_raw``), so each context gets its own invertible map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowstudio.flows._checks import expand_context
from flowstudio.flows.core import Transform
from flowstudio.flows.nets import MLP


class _ParamsFromContext(Transform):
    """Holds a flat parameter vector, plus a zero-initialized network of the context."""

    def __init__(self, features: int, context_features: int, n_params: int, hidden: int) -> None:
        super().__init__(features, context_features)
        self.n_params = n_params
        self.hyper = (
            MLP(context_features, n_params, hidden=hidden, num_hidden_layers=1) if context_features else None
        )

    def _flat_params(self, base: Tensor, x: Tensor, context: Tensor | None) -> Tensor:
        """Parameters of shape (*batch, n_params) for conditional, (n_params,) otherwise."""
        base = base.to(x.dtype)
        if self.hyper is None or context is None:
            return base
        return base + expand_context(self.hyper(context.to(x.dtype)), x.shape[:-1])


class PlanarTransform(_ParamsFromContext):
    """``z = x + u_hat tanh(w.x + b)``, with ``u_hat.w > -1`` (Rezende & Mohamed 2015).

    Args:
        features: number of features.
        context_features: size of the conditioning vector, 0 when unconditional.
        hidden: width of the context network (conditional only).
        bisection_steps: iterations of the inverse's bisection (64 halvings take the
            bracket below float64 resolution).
    """

    def __init__(
        self,
        features: int,
        context_features: int = 0,
        hidden: int = 32,
        bisection_steps: int = 64,
    ) -> None:
        super().__init__(features, context_features, 2 * features + 1, hidden)
        scale = 1.0 / math.sqrt(features)
        self.params = nn.Parameter(
            torch.cat([scale * torch.randn(features), scale * torch.randn(features), torch.zeros(1)])
        )
        self.bisection_steps = int(bisection_steps)

    def _uwb(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        p = self._flat_params(self.params, x, context)
        d = self.features
        u, w, b = p[..., :d], p[..., d : 2 * d], p[..., 2 * d]
        wu = (w * u).sum(-1, keepdim=True)
        w_norm2 = (w * w).sum(-1, keepdim=True).clamp_min(1e-12)
        u_hat = u + (-1.0 + F.softplus(wu) - wu) * w / w_norm2
        return u_hat, w, b

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        u_hat, w, b = self._uwb(x, context)
        t = torch.tanh((x * w).sum(-1) + b)
        z = x + u_hat * t.unsqueeze(-1)
        logdet = torch.log1p((u_hat * w).sum(-1) * (1 - t * t))
        return z, logdet

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        u_hat, w, b = self._uwb(z, context)
        c = (u_hat * w).sum(-1)  # > -1; shape () or batch
        wz = (z * w).sum(-1)
        # Solve g(a) = a + c tanh(a + b) - wz = 0; g is increasing and the root is bracketed.
        with torch.no_grad():
            lo, hi = wz - c.abs(), wz + c.abs()
            for _ in range(self.bisection_steps):
                mid = 0.5 * (lo + hi)
                above = (mid + c * torch.tanh(mid + b) - wz) > 0
                hi = torch.where(above, mid, hi)
                lo = torch.where(above, lo, mid)
            a = 0.5 * (lo + hi)
        # Implicit-function gradient: the value stays the bracketed root a0, while the
        # derivative is that of the root, da = -dg / g'(a0) (one "frozen" Newton step).
        g = a + c * torch.tanh(a + b) - wz
        t0 = torch.tanh(a + b).detach()
        a = a - (g - g.detach()) / (1 + c.detach() * (1 - t0 * t0))
        t = torch.tanh(a + b)
        x = z - u_hat * t.unsqueeze(-1)
        logdet = -torch.log1p(c * (1 - t * t))
        return x, logdet


class RadialTransform(_ParamsFromContext):
    """``z = x + beta (x - x0) / (alpha + |x - x0|)`` with ``alpha > 0, beta >= -alpha``.

    Args:
        features: number of features.
        context_features: size of the conditioning vector, 0 when unconditional.
        hidden: width of the context network (conditional only).
    """

    def __init__(self, features: int, context_features: int = 0, hidden: int = 32) -> None:
        super().__init__(features, context_features, features + 2, hidden)
        self.params = nn.Parameter(torch.cat([torch.randn(features), torch.zeros(1), torch.zeros(1)]))

    def _center_alpha_beta(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        p = self._flat_params(self.params, x, context)
        d = self.features
        x0 = p[..., :d]
        alpha = F.softplus(p[..., d])
        beta = -alpha + F.softplus(p[..., d + 1])
        return x0, alpha, beta

    def _logdet(self, r: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
        h = 1.0 / (alpha + r)
        return (self.features - 1) * torch.log1p(beta * h) + torch.log1p(alpha * beta * h * h)

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        x0, alpha, beta = self._center_alpha_beta(x, context)
        diff = x - x0
        r = diff.norm(dim=-1)
        h = 1.0 / (alpha + r)
        z = x + (beta * h).unsqueeze(-1) * diff
        return z, self._logdet(r, alpha, beta)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        x0, alpha, beta = self._center_alpha_beta(z, context)
        diff = z - x0
        rz = diff.norm(dim=-1)
        # r^2 + q r - alpha rz = 0 with q = alpha + beta - rz; the root r >= 0 without cancellation
        q = alpha + beta - rz
        sq = torch.sqrt(q * q + 4 * alpha * rz)
        r = torch.where(q > 0, 2 * alpha * rz / (q + sq).clamp_min(1e-30), 0.5 * (sq - q))
        x = x0 + diff / (1 + beta / (alpha + r)).unsqueeze(-1)
        return x, -self._logdet(r, alpha, beta)
