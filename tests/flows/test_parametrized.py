"""The parametrized tier: per-row transforms from a conditioner, applied in both directions,
on row subsets, and the rotation that gives GraphAF's steps a full covariance."""

from __future__ import annotations

import pytest
import torch

from flowstudio.flows.conditional_affine import ConditionalAffineStack
from flowstudio.flows.parametrized import AffineLayers, Chain, GivensRotation


def _randomized(stack: ConditionalAffineStack) -> ConditionalAffineStack:
    with torch.no_grad():
        for p in stack.parameters():
            p.copy_(torch.randn_like(p))
    return stack.double()


def test_rotation_then_affine_layers_invert_exactly_and_the_log_determinant_is_the_jacobians() -> None:
    torch.manual_seed(0)
    stack = _randomized(ConditionalAffineStack(5, num_layers=3, hidden=8, scale_bound=2.0, rotation=True))
    with torch.no_grad():
        flow = stack.at(torch.randn(6, 3 * 8, dtype=torch.float64))
    assert isinstance(flow, Chain)
    rotation = flow.parts[0]
    assert isinstance(rotation, GivensRotation) and rotation.angles.abs().max() > 0.1
    x = torch.rand(6, 5, dtype=torch.float64)
    z, logdet = flow.forward(x)
    x_back, logdet_back = flow.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logdet_back, -logdet)
    for k in range(6):
        row = torch.tensor([k])
        one, turn = flow.select(row), rotation.select(row)
        jac = torch.autograd.functional.jacobian(lambda v, f=one: f.forward(v.unsqueeze(0))[0][0], x[k])
        assert float(torch.linalg.slogdet(jac)[1]) == pytest.approx(float(logdet[k]), abs=1e-9)
        q = torch.autograd.functional.jacobian(lambda v, r=turn: r.forward(v.unsqueeze(0))[0][0], x[k])
        torch.testing.assert_close(q.T @ q, torch.eye(5, dtype=torch.float64), atol=1e-12, rtol=0)


def test_selected_rows_equal_the_rows_of_the_whole_batch() -> None:
    stack = _randomized(ConditionalAffineStack(4, num_layers=2, hidden=3, scale_bound=1.5, rotation=True))
    flow = stack.at(torch.randn(9, 6, dtype=torch.float64))
    x = torch.randn(9, 4, dtype=torch.float64)
    rows = torch.tensor([7, 2, 2])
    z, ld = flow.forward(x)
    z_rows, ld_rows = flow.select(rows).forward(x[rows])
    torch.testing.assert_close(z_rows, z[rows])
    torch.testing.assert_close(ld_rows, ld[rows])


def test_log_scales_are_bounded_and_an_untrained_stack_is_the_identity() -> None:
    stack = ConditionalAffineStack(3, num_layers=2, hidden=4, scale_bound=0.5)
    x = torch.randn(5, 3)
    z, ld = stack(x, torch.randn(5, 8))
    torch.testing.assert_close(z, x)
    torch.testing.assert_close(ld, torch.zeros(5))
    with torch.no_grad():
        stack.out_bias.fill_(100.0)
    with torch.no_grad():
        layers = stack.at(torch.zeros(5, 8))
    assert isinstance(layers, AffineLayers)
    assert float(layers.log_scale.max()) <= 0.5


def test_rotation_gives_each_step_a_correlated_gaussian() -> None:
    """The element-wise flow's Gaussian over the classes is diagonal; the rotation
    correlates them (what lets a bond step put its mass on 'none or single' alone)."""
    torch.manual_seed(1)
    stack = ConditionalAffineStack(4, num_layers=2, hidden=8, scale_bound=2.0, rotation=True)
    assert stack.angles_out is not None
    with torch.no_grad():
        stack.angles_out.bias.copy_(torch.tensor([0.6, 0.0, 0.0, 0.0, 0.0, 0.0]))  # rotate (x0, x1)
        stack.out_bias[0, :4].copy_(torch.tensor([1.5, -1.5, 0.0, 0.0]))  # unequal scales after it
        x, _ = stack.at(torch.zeros(200000, 16)).inverse(torch.randn(200000, 4))
    corr = torch.corrcoef(x.T)
    assert float(corr[0, 1].abs()) > 0.5
    assert float(corr[2, 3].abs()) < 0.02
    plain = ConditionalAffineStack(4, num_layers=2, hidden=8, scale_bound=2.0)
    with torch.no_grad():
        plain.out_bias[0, :4].copy_(torch.tensor([1.5, -1.5, 0.0, 0.0]))
        y, _ = plain.at(torch.zeros(200000, 16)).inverse(torch.randn(200000, 4))
    assert float(torch.corrcoef(y.T)[0, 1].abs()) < 0.02
