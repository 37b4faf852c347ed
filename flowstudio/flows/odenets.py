"""Networks for the dynamics of continuous normalizing flows.

A CNF's vector field ``f(t, z; c)`` must depend on time ``t`` and, for a conditional
flow, on a context vector ``c``. The ConcatSquash layer of FFJORD (Grathwohl et al.
2018, "FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative
Models") and PointFlow (Yang et al. 2019) does both with a gate and a shift computed
from ``(t, c)``::

    h = (W x + b) * sigmoid(A [t, c] + a) + B [t, c]

The gate and shift are cheap hypernetworks of ``(t, c)`` alone, so a (B, C) context
conditions a (B, N, 3) point set at the cost of one (B, hidden) product per layer, not
one per point: ``(t, c)`` is kept at shape (B, 1, C + 1) and broadcast over the points.

:meth:`ODENet.forward_and_jacobian` also returns the full Jacobian ``∂f/∂z`` by
forward-mode differentiation written out by hand: the ``D`` tangent vectors of the input
ride along the layers as ``D`` extra rows of each matrix product, so in 3-D the exact
divergence and the RNODE Frobenius norm cost about four forward passes and one ordinary
backward pass, instead of ``D`` vector-Jacobian products and a double backward through
them (see ``benchmarks/results/cnf.md``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

_ACTIVATIONS = {"softplus": nn.Softplus, "tanh": nn.Tanh}


class ConcatSquashLinear(nn.Module):
    """``h = (W x + b) * sigmoid(A [t, c] + a) + B [t, c]`` (no bias on the shift).

    Args:
        in_features, out_features: sizes of ``x`` and ``h``.
        context_features: size of ``c`` (0 for a layer gated on time alone).
    """

    def __init__(self, in_features: int, out_features: int, context_features: int = 0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(context_features + 1, out_features)
        self.shift = nn.Linear(context_features + 1, out_features, bias=False)

    def forward(self, x: Tensor, tc: Tensor) -> Tensor:
        """``x``: (*batch, in); ``tc``: ``[t, c]`` of shape broadcastable to (*batch, 1 + C)."""
        return self.linear(x) * torch.sigmoid(self.gate(tc)) + self.shift(tc)

    def forward_and_tangents(
        self, x: Tensor, tangents: Tensor, tc: Tensor, activation: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        """The layer (then ``activation``, if given) and its derivative along ``tangents``.

        ``tangents`` (*batch, D, in) are ``D`` directions in the input space; the result's
        are the same directions pushed through, (*batch, D, out). The gate and the shift
        depend on ``(t, c)`` only, so along ``u`` the layer's derivative is
        ``act'(pre) * gate * (W u)``: one bias-free product for all ``D`` tangents and one
        elementwise scale.
        """
        gate = torch.sigmoid(self.gate(tc))
        pre = self.linear(x) * gate + self.shift(tc)
        scale = gate if activation is None else gate * _slope(activation, pre)
        moved = torch.nn.functional.linear(tangents, self.linear.weight) * scale.unsqueeze(-2)
        return (pre if activation is None else activation(pre)), moved


def _slope(activation: nn.Module, pre: Tensor) -> Tensor:
    """The derivative of a softplus or tanh activation at ``pre``."""
    if isinstance(activation, nn.Softplus):
        return torch.sigmoid(pre * activation.beta)
    return 1.0 - torch.tanh(pre).pow(2)


class ODENet(nn.Module):
    """A stack of ConcatSquash layers computing ``dz/dt = f(t, z; c)``.

    Args:
        features: size of the state ``z`` (data dimensions plus any augmented ones).
        context_features: size of the conditioning vector ``c``; 0 when unconditional.
        hidden: widths of the hidden layers.
        activation: ``"softplus"`` or ``"tanh"``: smooth, so that the field is
            differentiable and the divergence is well defined (ReLU would make the
            divergence piecewise constant and the ODE harder for adaptive solvers).
    """

    def __init__(
        self,
        features: int,
        context_features: int = 0,
        hidden: Sequence[int] = (64, 64),
        activation: str = "softplus",
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.features = int(features)
        self.context_features = int(context_features)
        widths = [self.features, *[int(h) for h in hidden], self.features]
        self.layers = nn.ModuleList(
            ConcatSquashLinear(a, b, self.context_features) for a, b in itertools.pairwise(widths)
        )
        self.activation = _ACTIVATIONS[activation]()

    def forward(self, t: Tensor, z: Tensor, context: Tensor | None = None) -> Tensor:
        """``t``: scalar; ``z``: (*batch, features); ``context``: broadcastable to
        (*batch, context_features), e.g. (B, 1, C) for (B, N, features) points."""
        tc = time_and_context(t, z, context)
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(h, tc)
            if i < len(self.layers) - 1:
                h = self.activation(h)
        return h

    def forward_and_jacobian(
        self, t: Tensor, z: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``f(t, z; c)`` and its Jacobian ``J[..., i, j] = ∂f_i/∂z_j``, shape (*batch, D, D).

        Exact and differentiable like any forward pass (no ``create_graph`` needed): the
        identity's ``D`` columns are pushed through every layer with the chain rule,
        ``u -> act'(pre) * ((W u) * gate)``.
        """
        tc = time_and_context(t, z, context)
        # The identity broadcasts: the first layer's tangents are W^T * gate for every point.
        tangents = torch.eye(self.features, dtype=z.dtype, device=z.device)
        h = z
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h, tangents = layer.forward_and_tangents(h, tangents, tc, None if i == last else self.activation)
        # tangents[..., j, i] = ∂f_i/∂z_j
        return h, tangents.transpose(-1, -2)


def time_and_context(t: Tensor, z: Tensor, context: Tensor | None) -> Tensor:
    """``[t, c]`` with ``c``'s own (broadcastable) batch shape, or ``[t]`` shaped (1, …, 1, 1).

    ``t`` is a scalar (one time for the whole batch, as in an ODE solve) or, for flow
    matching, one time per sample shaped like ``z`` with a last axis of 1 (or broadcastable
    to it, e.g. (B, 1, 1) for (B, N, D) point sets)."""
    if t.dim() == 0:
        if context is None:
            return t.to(z).reshape([1] * z.dim())
        return torch.cat([t.to(context).expand(*context.shape[:-1], 1), context], dim=-1)
    if context is None:
        return t.to(z)
    batch = torch.broadcast_shapes(t.shape[:-1], context.shape[:-1])
    return torch.cat([t.to(context).expand(*batch, 1), context.expand(*batch, context.shape[-1])], dim=-1)


def broadcast_context(context: Tensor | None, z: Tensor) -> Tensor | None:
    """A (B, C) context reshaped to (B, 1, …, 1, C) so it broadcasts over the extra batch
    axes of ``z`` (the N points of B shapes, say) in the dynamics net."""
    if context is None:
        return None
    extra = [1] * (z.dim() - context.dim())
    return context.reshape(*context.shape[:-1], *extra, context.shape[-1])
