"""A normalizing flow: a transform pushed onto a base distribution.

``Flow(transform, base)`` gives the density by change of variables,

    log p(x | c) = log p_Z(f(x; c) | c) + log|det df/dx|,

and samples by drawing ``z`` from the base (at a temperature) and running the transform
backwards. Continuous normalizing flows are transforms like any other, so a CNF model is
a ``Flow`` too (Rezende & Mohamed 2015; Papamakarios et al. 2021, "Normalizing Flows for
Probabilistic Modeling and Inference").
"""

from __future__ import annotations

import torch
from torch import Tensor

from flowstudio.flows.core import Transform
from flowstudio.flows.distributions import Distribution, _batch_shape, _check_temperature


class Flow(Distribution):
    """A distribution defined by a transform from data to a base distribution's space.

    Args:
        transform: maps data to noise in its forward direction.
        base: the distribution of the noise. It may be conditional itself, in which case it
            receives the same context as the transform.
    """

    def __init__(self, transform: Transform, base: Distribution) -> None:
        if transform.features != base.features:
            raise ValueError(
                f"the transform acts on {transform.features} features but the base "
                f"distribution has {base.features}"
            )
        super().__init__(transform.features, max(transform.context_features, base.context_features))
        self.transform = transform
        self.base = base

    def _log_prob(self, x: Tensor, context: Tensor | None) -> Tensor:
        z, logdet = self.transform._forward(x, context if self.transform.context_features else None)
        return self.base._log_prob(z, context if self.base.context_features else None) + logdet

    def _rsample(self, shape: tuple[int, ...], context: Tensor | None, temperature: float) -> Tensor:
        z = self.base._rsample(shape, context if self.base.context_features else None, temperature)
        return self.transform._inverse_value(z, context if self.transform.context_features else None)

    def sample_and_log_prob(
        self, n: int | tuple[int, ...], context: Tensor | None = None, temperature: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """Draw samples (no gradient) and their log-density under the model in one pass.

        Shapes as for :meth:`sample`: (*n, features) and ``n``, or (B, *n, features) and
        (B, *n) with a (B, C) context. The log-density is that of the model itself (at
        temperature 1), evaluated at the samples, whatever temperature they were drawn at.
        """
        temperature = _check_temperature(temperature)
        self._check_sampling_context(context)
        shape = _batch_shape(n, context)
        base_ctx = context if self.base.context_features else None
        with torch.no_grad():
            z = self.base._rsample(shape, base_ctx, temperature)
            x, logdet_inv = self.transform._inverse(
                z, context if self.transform.context_features else None
            )
            base_lp = self.base._log_prob(z, base_ctx)
        return x, base_lp - logdet_inv
