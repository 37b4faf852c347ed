"""The rational-quadratic spline of neural spline flows (Durkan et al. 2019) and its layers:
exact closed-form inverse, log-derivatives against autograd, linear tails, the bin guards and
the options refused. The layers' shared checks (round trips, log-determinants against the
autograd Jacobian, contexts) run in test_transforms.py, their densities in
test_toy_densities.py and test_flow.py."""

from __future__ import annotations

import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows import make_flow
from flowstudio.flows.nets import alternating_mask
from flowstudio.flows.nsf import RQSplineAutoregressive, RQSplineCoupling
from flowstudio.flows.splines import SplineOptions, params_per_value, rational_quadratic_spline

B = 3.0


def _params(shape: tuple[int, ...], bins: int, scale: float, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(4)
    return scale * torch.randn(*shape, params_per_value(bins), generator=g, dtype=dtype)


def _inputs(n: int, dtype=torch.float64) -> torch.Tensor:
    """Values spread over [-1.5 B, 1.5 B]: inside the spline and on both tails."""
    return torch.linspace(-1.5 * B, 1.5 * B, n, dtype=dtype)


@pytest.mark.parametrize(
    ("dtype", "scale", "atol"), [(torch.float32, 0.5, 1e-5), (torch.float64, 1.5, 1e-9)], ids=["f32", "f64"]
)
def test_round_trip_and_inverse_log_derivative(dtype: torch.dtype, scale: float, atol: float) -> None:
    """x -> y -> x. The inverse's rounding error is that of y divided by dy/dx, so float32
    meets 1e-5 where dy/dx stays above a few percent (parameters of scale 0.5); the float64
    case takes parameters that flatten the map to dy/dx ~ 1e-3."""
    x = _inputs(2001, dtype)
    params = _params((2001,), 8, scale, dtype)
    y, ld = rational_quadratic_spline(x, params, tail_bound=B)
    assert (y != x).sum() > 1000  # the spline really moves the inside values
    x_back, ld_inv = rational_quadratic_spline(y, params, inverse=True, tail_bound=B)
    torch.testing.assert_close(x_back, x, atol=atol, rtol=0)
    torch.testing.assert_close(ld_inv, -ld, atol=atol, rtol=0)


@pytest.mark.parametrize("inverse", [False, True])
def test_log_derivative_matches_autograd(inverse: bool) -> None:
    x = _inputs(301).requires_grad_(True)
    params = _params((301,), 6, 1.5)
    y, ld = rational_quadratic_spline(x, params, inverse=inverse, tail_bound=B)
    (dy,) = torch.autograd.grad(y.sum(), x)  # elementwise map: the Jacobian is diagonal
    torch.testing.assert_close(ld, dy.log(), atol=1e-9, rtol=1e-9)


def test_outside_the_tail_bound_is_the_identity_and_the_spline_is_c1_at_the_bound() -> None:
    params = _params((5,), 8, 2.0)
    outside = torch.tensor([-100.0, -B - 1e-3, B + 1e-3, 7.0, 1e4], dtype=torch.float64)
    for inverse in (False, True):
        y, ld = rational_quadratic_spline(outside, params, inverse=inverse, tail_bound=B)
        assert torch.equal(y, outside) and torch.equal(ld, torch.zeros(5, dtype=torch.float64))
    # the knots at -B and B stay where they are, with derivative 1: no jump at the tails
    ends = torch.tensor([-B, B, -B, B, 0.0], dtype=torch.float64)
    y, ld = rational_quadratic_spline(ends, params, tail_bound=B)
    torch.testing.assert_close(y[:4], ends[:4])
    torch.testing.assert_close(ld[:4], torch.zeros(4, dtype=torch.float64), atol=1e-12, rtol=0)


def test_zero_parameters_are_the_identity_and_the_spline_is_monotonic() -> None:
    x = _inputs(500)
    y, ld = rational_quadratic_spline(x, torch.zeros(500, params_per_value(5), dtype=torch.float64))
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(ld, torch.zeros_like(ld))
    shared = _params((), 5, 2.0).expand(500, -1)
    y, _ = rational_quadratic_spline(x, shared, tail_bound=B)
    assert (y[1:] > y[:-1]).all()


def test_the_guards_bound_bins_and_derivatives_under_extreme_parameters() -> None:
    """Parameters of +-50 would collapse bins or flatten the map without the minimums."""
    # bin 0 as narrow and as flat as allowed, a flat derivative at the knot after it
    params = torch.tensor([[-50.0, 0, 0, 0, -50, 0, 0, 0, -50, 0, 0]], dtype=torch.float64)
    x = torch.linspace(-B, B, 4001, dtype=torch.float64)[:, None]
    y, ld = rational_quadratic_spline(x.squeeze(1), params.expand(4001, -1), tail_bound=B)
    assert torch.isfinite(y).all() and torch.isfinite(ld).all()
    assert (y[1:] >= y[:-1]).all()
    # the inner knots' derivatives are held at min_derivative = 1e-3, not exp(-50)
    min_width = 2 * B * 1e-3
    knot = torch.tensor([-B + min_width], dtype=torch.float64)  # first inner knot: bin 0 is minimal
    _, ld_knot = rational_quadratic_spline(knot, params, tail_bound=B)
    assert ld_knot.item() == pytest.approx(torch.log(torch.tensor(1e-3)).item(), abs=1e-6)
    x_back, _ = rational_quadratic_spline(y, params.expand(4001, -1), inverse=True, tail_bound=B)
    # ill-conditioned where dy/dx ~ 1e-3, yet the closed form stays accurate in float64
    torch.testing.assert_close(x_back, x.squeeze(1), atol=1e-8, rtol=0)


def test_layers_let_tail_values_through_untouched() -> None:
    torch.manual_seed(0)
    far = torch.tensor([[10.0, -20.0, 30.0], [-5.0, 8.0, -9.0]])
    coupling = RQSplineCoupling(3, alternating_mask(3, 0), spline=SplineOptions(tail_bound=B))
    for layer in (coupling, RQSplineAutoregressive(3)):
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(torch.randn_like(p))
        z, ld = layer(far)
        assert torch.equal(z, far) and torch.equal(ld, torch.zeros(2))


def test_conditional_spline_layers_pass_gradients_to_the_context() -> None:
    torch.manual_seed(0)
    coupling = RQSplineCoupling(3, alternating_mask(3, 1), context_features=2)
    for layer in (coupling, RQSplineAutoregressive(3, 2)):
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(0.3 * torch.randn_like(p))
        context = torch.randn(4, 2, requires_grad=True)
        z, ld = layer(torch.randn(4, 5, 3), context)
        (z.square().sum() + ld.sum()).backward()
        assert context.grad is not None and context.grad.abs().min() > 0


def test_bad_options_are_refused_with_the_option_named() -> None:
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        SplineOptions(bins=0)
    with pytest.raises(ValueError, match="tail_bound must be a finite number > 0"):
        SplineOptions(tail_bound=float("nan"))
    with pytest.raises(ValueError, match=r"min_bin_height \* bins must be below 1"):
        SplineOptions(bins=10, min_bin_height=0.1)
    with pytest.raises(ValueError, match=r"min_derivative must be in \(0, 1\)"):
        SplineOptions(min_derivative=0.0)
    with pytest.raises(ValueError, match=r"params must have shape \(4,\) \+ \(3K - 1,\), got \(4, 6\)"):
        rational_quadratic_spline(torch.zeros(4), torch.zeros(4, 6))
    with pytest.raises(BadInputError, match="option bins must be a positive integer"):
        make_flow("nsf", 3, bins=2.5)
    with pytest.raises(BadInputError, match="option tail_bound must be a positive number"):
        make_flow("nsf_ar", 3, tail_bound=0)
    with pytest.raises(BadInputError, match=r"min_bin_width \* bins must be below 1.*bins=1000"):
        make_flow("nsf", 3, bins=1000)
    with pytest.raises(BadInputError, match="nsf needs features >= 2"):
        make_flow("nsf", 1)
    with pytest.raises(BadInputError, match=r"unknown option\(s\) clamp for flow family 'nsf_ar'"):
        make_flow("nsf_ar", 3, clamp=3.0)
