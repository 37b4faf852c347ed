"""Monotonic rational-quadratic splines with linear tails (Durkan et al. 2019).

"Neural Spline Flows" (Durkan, Bekasov, Murray & Papamakarios, NeurIPS 2019) replaces the
affine map of coupling and autoregressive layers by a monotonic rational-quadratic (RQ)
spline of Gregory & Delbourgo (1982). On ``[-B, B]`` the spline has ``K`` bins whose knots
``(x_k, y_k)``, ``k = 0..K``, run from ``(-B, -B)`` to ``(B, B)``, and positive derivatives
``d_k`` at the knots. Outside ``[-B, B]`` it is the identity (the paper's *linear tails*),
so the boundary derivatives are ``d_0 = d_K = 1`` and the map is C^1 everywhere.

Parameters (per transformed value, ``3K - 1`` unconstrained numbers): ``K`` widths and ``K``
heights go through a softmax, ``w = m + (1 - m K) softmax(u)`` (the minimum ``m`` keeps bins
from collapsing), then are scaled to ``2B``; the ``K - 1`` inner derivatives are
``d = m_d + softplus(u + c)`` with ``softplus(c) = 1 - m_d``, so all-zero parameters give
uniform bins and unit derivatives: the identity, which is where a zero-initialized
conditioner starts every layer.

In bin ``k``, with ``w_k = x_{k+1} - x_k``, ``h_k = y_{k+1} - y_k``, ``s_k = h_k / w_k`` and
``xi = (x - x_k) / w_k`` in [0, 1] (the paper's eq. 4 and its appendix A):

    y = y_k + h_k [s_k xi^2 + d_k xi (1 - xi)] / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)],

    dy/dx = s_k^2 [d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2]
            / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]^2,

and ``log|det|`` of an elementwise spline is the sum of ``log dy/dx``. The inverse solves
the quadratic ``a xi^2 + b xi + c = 0`` for ``xi`` in closed form, with ``delta = y - y_k``:

    a = h_k (s_k - d_k) + delta (d_{k+1} + d_k - 2 s_k),
    b = h_k d_k - delta (d_{k+1} + d_k - 2 s_k),
    c = -s_k delta,
    xi = 2c / (-b - sqrt(b^2 - 4ac))

(the numerically stable root of the two; ``b^2 - 4ac >= 0`` for a monotonic spline), so
inverting costs the same as evaluating: no root finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_MIN_BIN_WIDTH = 1e-3
DEFAULT_MIN_BIN_HEIGHT = 1e-3
DEFAULT_MIN_DERIVATIVE = 1e-3


def params_per_value(bins: int) -> int:
    """Unconstrained parameters per transformed value: K widths, K heights, K - 1 derivatives."""
    return 3 * bins - 1


@dataclass(frozen=True)
class SplineOptions:
    """The options of a rational-quadratic spline, checked when made.

    Attributes:
        bins: ``K``, the number of bins.
        tail_bound: ``B``; the spline acts on ``[-B, B]`` and is the identity outside.
        min_bin_width, min_bin_height: the smallest share of ``2B`` a bin may take.
        min_derivative: the smallest derivative at a knot.
    """

    bins: int = 8
    tail_bound: float = 3.0
    min_bin_width: float = DEFAULT_MIN_BIN_WIDTH
    min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT
    min_derivative: float = DEFAULT_MIN_DERIVATIVE

    def __post_init__(self) -> None:
        bins, bound = self.bins, self.tail_bound
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        if not (isinstance(bound, int | float) and math.isfinite(bound) and bound > 0):
            raise ValueError(f"tail_bound must be a finite number > 0, got {bound!r}")
        for name in ("min_bin_width", "min_bin_height"):
            value = getattr(self, name)
            if not (value >= 0 and value * bins < 1):
                raise ValueError(
                    f"{name} * bins must be below 1 so that the bins fit in [-B, B]; "
                    f"got {name}={value!r} with bins={bins}"
                )
        if not 0 < self.min_derivative < 1:
            raise ValueError(f"min_derivative must be in (0, 1), got {self.min_derivative!r}")

    @property
    def params_per_value(self) -> int:
        return params_per_value(self.bins)

    def apply(self, inputs: Tensor, params: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
        """:func:`rational_quadratic_spline` with these options."""
        return rational_quadratic_spline(
            inputs, params, inverse, self.tail_bound, self.min_bin_width, self.min_bin_height,
            self.min_derivative,
        )


def _knots(unnormalized: Tensor, minimum: float, bound: float) -> tuple[Tensor, Tensor]:
    """Bin sizes (..., K) and knot positions (..., K + 1) from -bound to bound."""
    bins = unnormalized.shape[-1]
    # softmax written out: torch.softmax over a last axis of a few bins is several times
    # slower on the CPU (1.8 ms for 6144 x 8 values, a third of a spline layer's time)
    e = torch.exp(unnormalized - unnormalized.detach().amax(-1, keepdim=True))
    sizes = minimum + (1 - minimum * bins) * e / e.sum(-1, keepdim=True)
    knots = F.pad(torch.cumsum(sizes, dim=-1), (1, 0))
    knots = 2 * bound * knots - bound
    # pin the ends exactly (the cumulative sum drifts by rounding), then the sizes
    end = (*knots.shape[:-1], 1)
    knots = torch.cat([knots.new_full(end, -bound), knots[..., 1:-1], knots.new_full(end, bound)], dim=-1)
    return knots[..., 1:] - knots[..., :-1], knots


def _derivatives(unnormalized: Tensor, minimum: float) -> Tensor:
    """Knot derivatives (..., K + 1): the K - 1 inner ones from softplus, 1 at both ends."""
    offset = math.log(math.expm1(1 - minimum))  # softplus(offset) = 1 - minimum
    inner = minimum + F.softplus(unnormalized + offset)
    one = inner.new_ones((*inner.shape[:-1], 1))
    return torch.cat([one, inner, one], dim=-1)


def rational_quadratic_spline(
    inputs: Tensor,
    params: Tensor,
    inverse: bool = False,
    tail_bound: float = 3.0,
    min_bin_width: float = DEFAULT_MIN_BIN_WIDTH,
    min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT,
    min_derivative: float = DEFAULT_MIN_DERIVATIVE,
) -> tuple[Tensor, Tensor]:
    """Apply the spline elementwise: return ``(outputs, log|dy/dx|)``, both shaped like ``inputs``.

    Args:
        inputs: values of shape (...,); ``x`` in the forward direction, ``y`` in the inverse.
        params: unconstrained parameters of shape (..., 3K - 1): K widths, K heights, then
            K - 1 inner derivatives (see the module docstring).
        inverse: map ``y -> x`` instead of ``x -> y``; the log-derivative is then that of the
            inverse, ``-log dy/dx`` at the solution.
        tail_bound: ``B``; values outside ``[-B, B]`` pass through with log-derivative 0.
        min_bin_width, min_bin_height, min_derivative: the guards against degenerate bins.
    """
    if params.shape[:-1] != inputs.shape or (params.shape[-1] + 1) % 3:
        raise ValueError(
            f"params must have shape {tuple(inputs.shape)} + (3K - 1,), got {tuple(params.shape)}"
        )
    bins = (params.shape[-1] + 1) // 3
    widths, x_knots = _knots(params[..., :bins], min_bin_width, tail_bound)
    heights, y_knots = _knots(params[..., bins : 2 * bins], min_bin_height, tail_bound)
    derivs = _derivatives(params[..., 2 * bins :], min_derivative)

    inside = (inputs >= -tail_bound) & (inputs <= tail_bound)
    # Evaluate the spline on clamped values everywhere, so that no NaN or Inf appears in the
    # unused branch of the final ``where`` (it would poison the gradients).
    v = inputs.clamp(-tail_bound, tail_bound)
    knots = y_knots if inverse else x_knots
    index = ((v[..., None] >= knots[..., 1:-1]).sum(-1, keepdim=True)).clamp(max=bins - 1)
    # one gather of everything the bin needs (six gathers cost six scatters backwards)
    table = torch.stack(
        [x_knots[..., :-1], y_knots[..., :-1], widths, heights, derivs[..., :-1], derivs[..., 1:]], dim=-2
    )
    picked = table.gather(-1, index[..., None, :].expand(*index.shape[:-1], 6, 1)).squeeze(-1)
    x_k, y_k, w_k, h_k, d_k, d_k1 = picked.unbind(-1)
    s_k = h_k / w_k
    curvature = d_k1 + d_k - 2 * s_k

    if inverse:
        delta = v - y_k
        a = h_k * (s_k - d_k) + delta * curvature
        b = h_k * d_k - delta * curvature
        c = -s_k * delta
        discriminant = (b.square() - 4 * a * c).clamp(min=0)
        xi = 2 * c / (-b - torch.sqrt(discriminant))
        out = xi * w_k + x_k
    else:
        xi = (v - x_k) / w_k
        t = xi * (1 - xi)
        out = y_k + h_k * (s_k * xi.square() + d_k * t) / (s_k + curvature * t)
    t = xi * (1 - xi)
    numerator = s_k.square() * (d_k1 * xi.square() + 2 * s_k * t + d_k * (1 - xi).square())
    log_derivative = torch.log(numerator) - 2 * torch.log(s_k + curvature * t)
    if inverse:
        log_derivative = -log_derivative
    outputs = torch.where(inside, out, inputs)
    return outputs, torch.where(inside, log_derivative, torch.zeros_like(log_derivative))
