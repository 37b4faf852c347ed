"""NICE: additive coupling layers and a diagonal scaling layer (Dinh et al. 2014).

"NICE: Non-linear Independent Components Estimation" splits the features with a binary
mask ``m`` into a part ``x_A`` (``m = 1``) that passes through and a part ``x_B``
(``m = 0``) that is shifted by a network of ``x_A`` (and of the context ``c``, for the
conditional variant):

    z_A = x_A,        z_B = x_B + t(x_A, c),        log|det dz/dx| = 0,
    x_B = z_B - t(z_A, c)                          (the exact inverse).

Additive couplings preserve volume, so NICE ends with a diagonal scaling layer
``z = exp(s) * x`` with ``log|det| = sum(s)`` (§3.3 of the paper) that lets the model
weigh the dimensions. :class:`Coupling` is the shared machinery of every coupling layer;
RealNVP's affine coupling (:mod:`flowstudio.flows.realnvp`) builds on it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows.core import Transform
from flowstudio.flows.nets import MLP


class Coupling(Transform):
    """Base of coupling layers: ``x_A`` (mask True) conditions an elementwise map of ``x_B``.

    Subclasses set :attr:`params_per_feature` and implement :meth:`_couple` and
    :meth:`_uncouple` on the transformed part given the network's parameters.

    Args:
        features: number of features.
        mask: boolean tensor of shape (features,): True marks the features that pass through.
        context_features: size of the conditioning vector, 0 when unconditional.
        hidden: width of the conditioner's hidden layers.
        num_hidden_layers: depth of the conditioner.
    """

    params_per_feature = 1

    def __init__(
        self,
        features: int,
        mask: Tensor,
        context_features: int = 0,
        hidden: int = 64,
        num_hidden_layers: int = 2,
    ) -> None:
        super().__init__(features, context_features)
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.shape != (features,):
            raise ValueError(f"mask must have shape ({features},), got {tuple(mask.shape)}")
        n_id, n_tr = int(mask.sum()), int((~mask).sum())
        if n_tr == 0:
            raise ValueError("the coupling mask leaves no feature to transform")
        if n_id == 0 and context_features == 0:
            raise ValueError(
                "the coupling mask passes no feature through and there is no context: "
                "a coupling layer needs features >= 2 (or a context)"
            )
        idx = torch.arange(features)
        order = torch.cat([idx[mask], idx[~mask]])
        self.register_buffer("identity_index", idx[mask])
        self.register_buffer("transform_index", idx[~mask])
        self.register_buffer("inverse_order", torch.argsort(order))
        self.register_buffer("mask", mask)
        self.net = MLP(
            n_id,
            n_tr * self.params_per_feature,
            hidden=hidden,
            num_hidden_layers=num_hidden_layers,
            context_features=context_features,
        )

    def _params(self, x_id: Tensor, context: Tensor | None) -> Tensor:
        out = self.net(x_id, context)
        return out.reshape(*out.shape[:-1], -1, self.params_per_feature)

    def _run(self, x: Tensor, context: Tensor | None, inverse: bool) -> tuple[Tensor, Tensor]:
        x_id = x.index_select(-1, self.identity_index)
        x_tr = x.index_select(-1, self.transform_index)
        params = self._params(x_id, context)
        y_tr, logdet = (self._uncouple if inverse else self._couple)(x_tr, params)
        y = torch.cat([x_id, y_tr], dim=-1).index_select(-1, self.inverse_order)
        return y, logdet

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._run(x, context, inverse=False)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._run(z, context, inverse=True)

    def _couple(self, x_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _uncouple(self, z_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class AdditiveCoupling(Coupling):
    """NICE's additive coupling ``z_B = x_B + t(x_A, c)``: volume preserving."""

    params_per_feature = 1

    def _couple(self, x_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return x_tr + params[..., 0], x_tr.new_zeros(x_tr.shape[:-1])

    def _uncouple(self, z_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return z_tr - params[..., 0], z_tr.new_zeros(z_tr.shape[:-1])


class DiagonalScaling(Transform):
    """NICE's final scaling layer ``z = exp(s) * x`` with a learned ``s`` (initialized to 0)."""

    def __init__(self, features: int) -> None:
        super().__init__(features)
        self.log_scale = nn.Parameter(torch.zeros(features))

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return x * torch.exp(self.log_scale), self.log_scale.sum().expand(x.shape[:-1])

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return z * torch.exp(-self.log_scale), (-self.log_scale.sum()).expand(z.shape[:-1])
