"""A conditional affine flow with an optional conditioned rotation: GraphAF's step flow.

``z = f_L(... f_1(Q x))`` with ``f_l(y) = y * exp(a_l) + b_l`` (Shi et al., ICLR 2020,
Eq. 7-8), where ``a_l, b_l`` and the rotation ``Q`` are functions of a context. Without
``Q`` the flow's Gaussian over ``x`` has a *diagonal* covariance; with it, the full
covariance ``Q^T diag(.) Q`` (FlowStudio's addition; see
:class:`~flowstudio.flows.parametrized.GivensRotation`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows._checks import expand_context
from flowstudio.flows.core import Transform
from flowstudio.flows.parametrized import AffineLayers, Chain, GivensRotation, ParametrizedTransform


class ConditionalAffineStack(Transform):
    """``L`` affine layers whose parameters are one-hidden-layer MLPs of a context
    (GraphAF's "ST nets", one per layer), optionally after a conditioned rotation.

    The context is the *pre-activation of the MLPs' hidden layers*, ``(*, L * hidden)``: the
    caller applies their first layers, so that a model can split that ``Linear`` over the
    parts of its condition and compute each part once (GraphAF computes the graph's part
    once per partial graph, not once per step). The second layers are one batched matmul;
    the rotation angles are a linear read-out of all ``L`` hidden layers. The last layers
    start at zero: an untrained stack is the identity.

    :meth:`at` gives the :class:`~flowstudio.flows.parametrized.ParametrizedTransform` of a
    batch of contexts, to apply in both directions without re-running the MLPs.
    """

    def __init__(
        self, features: int, num_layers: int, hidden: int, scale_bound: float, rotation: bool = False
    ) -> None:
        super().__init__(features, num_layers * hidden)
        self.num_layers, self.hidden, self.scale_bound = num_layers, hidden, scale_bound
        self.out_weight = nn.Parameter(torch.zeros(num_layers, hidden, 2 * features))
        self.out_bias = nn.Parameter(torch.zeros(num_layers, 2 * features))
        self.angles_out: nn.Linear | None = None
        if rotation:
            self.angles_out = nn.Linear(num_layers * hidden, features * (features - 1) // 2)
            nn.init.zeros_(self.angles_out.weight)
            nn.init.zeros_(self.angles_out.bias)

    def at(self, pre_activation: Tensor) -> ParametrizedTransform:
        """The flow of each row of ``pre_activation`` (*, L * hidden).

        Log-scales are bounded, ``a = s * tanh(a_raw / s)`` with ``s = scale_bound``, so that
        one layer cannot become arbitrarily sharp (for stability).
        """
        batch = pre_activation.shape[:-1]
        flat = torch.relu(pre_activation.reshape(-1, self.context_features))
        h = flat.view(-1, self.num_layers, self.hidden)
        out = torch.einsum("nlh,lho->nlo", h, self.out_weight) + self.out_bias
        raw_scale, shift = out.view(*batch, self.num_layers, -1).split(self.features, dim=-1)
        layers = AffineLayers(self.scale_bound * torch.tanh(raw_scale / self.scale_bound), shift)
        if self.angles_out is None:
            return layers
        angles = self.angles_out(flat).view(*batch, -1)
        return Chain((GivensRotation(angles), layers))

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        assert context is not None
        return self.at(expand_context(context, x.shape[:-1])).forward(x)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        assert context is not None
        return self.at(expand_context(context, z.shape[:-1])).inverse(z)
