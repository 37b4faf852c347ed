"""Neural spline flows: rational-quadratic coupling and autoregressive layers (Durkan et al. 2019).

"Neural Spline Flows" keeps the two conditioner structures of the affine flows and swaps
their elementwise affine map for a monotonic rational-quadratic spline
(:mod:`flowstudio.flows.splines`) whose ``3K - 1`` parameters per value come from the
conditioner:

* **coupling** (RQ-NSF (C), §3.1 of the paper), with RealNVP's masks and conditioner
  (:class:`flowstudio.flows.nice.Coupling`)::

      z_A = x_A,    z_B = RQS(x_B; theta(x_A, c)),    log|det dz/dx| = sum_j log RQS'(x_B,j),

  whose inverse is the spline's closed-form inverse with the same ``theta``: one pass
  either way;

* **autoregressive** (RQ-NSF (AR), §3.2), with MAF's MADE conditioner
  (:class:`flowstudio.flows.autoregressive.MADE`) in the density direction::

      z_i = RQS(x_i; theta_i(x_<i, c)),          log|det dz/dx| = sum_i log RQS'(x_i),

  so the density costs one pass and sampling ``D`` passes, one coordinate at a time.

Both are conditional on an optional context like every family. Outside ``[-B, B]``
(``tail_bound``) the splines are the identity, and with the conditioners' zero-initialized
last layers every layer starts as the identity map.
"""

from __future__ import annotations

from torch import Tensor

from flowstudio.flows.autoregressive import MADE
from flowstudio.flows.core import Transform
from flowstudio.flows.nice import Coupling
from flowstudio.flows.splines import SplineOptions


class _SplineLayer:
    """The spline of a layer: ``self.spline`` (its options) applied, log-derivatives summed."""

    spline: SplineOptions

    def _spline(self, values: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        out, log_derivative = self.spline.apply(values, params, inverse)
        return out, log_derivative.sum(-1)


class RQSplineCoupling(_SplineLayer, Coupling):
    """Coupling layer whose transformed part goes through a rational-quadratic spline.

    Args:
        features, mask, context_features, hidden, num_hidden_layers: see :class:`Coupling`.
        spline: the spline's bins, tail bound and guards (default :class:`SplineOptions`()).
    """

    def __init__(
        self,
        features: int,
        mask: Tensor,
        context_features: int = 0,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        spline: SplineOptions | None = None,
    ) -> None:
        spline = spline or SplineOptions()
        # Coupling sizes its conditioner's output from params_per_feature
        self.params_per_feature = spline.params_per_value
        super().__init__(features, mask, context_features, hidden, num_hidden_layers)
        self.spline = spline

    def _couple(self, x_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(x_tr, params, inverse=False)

    def _uncouple(self, z_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(z_tr, params, inverse=True)


class RQSplineAutoregressive(_SplineLayer, Transform):
    """Masked autoregressive layer with rational-quadratic splines: density in one pass,
    sampling in ``D`` passes (the MAF direction).

    Args:
        features: number of features.
        context_features: size of the conditioning vector, 0 when unconditional.
        hidden, num_hidden_layers: size of the MADE.
        spline: see :class:`RQSplineCoupling`.
    """

    def __init__(
        self,
        features: int,
        context_features: int = 0,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        spline: SplineOptions | None = None,
    ) -> None:
        Transform.__init__(self, features, context_features)
        self.spline = spline or SplineOptions()
        self.made = MADE(features, self.spline.params_per_value, hidden, num_hidden_layers, context_features)

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self._spline(x, self.made(x, context), inverse=False)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """x_i = RQS^-1(z_i; theta_i(x_<i)): after pass i the first i coordinates are final."""
        x = z.new_zeros(z.shape)
        logdet = z.new_zeros(z.shape[:-1])
        for _ in range(self.features):
            x, logdet = self._spline(z, self.made(x, context), inverse=True)
        return x, logdet
