"""Flow: a normalized density, sampling shapes, temperature, and consistent sample log-densities."""

from __future__ import annotations

import pytest
import torch

from flowstudio.flows import Flow, make_flow
from flowstudio.flows.core import Transform

DISCRETE = ["planar", "radial", "nice", "realnvp", "glow", "maf", "iaf", "nsf", "nsf_ar"]


def _perturb(module: torch.nn.Module, scale: float) -> None:
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _grid_mass(flow: Flow, half_width: float = 10.0, n: int = 401) -> float:
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(axis, axis, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    with torch.no_grad():
        p = flow.log_prob(pts).exp()
    cell = float(axis[1] - axis[0]) ** 2
    return float(p.sum()) * cell


@pytest.mark.parametrize("perturbed", [False, True], ids=["init", "perturbed"])
def test_realnvp_density_integrates_to_one(perturbed: bool) -> None:
    flow = make_flow("realnvp", 2, num_layers=4, hidden=16).double()
    if perturbed:
        _perturb(flow, 0.15)
        # the perturbation really changed the density
        x = torch.randn(64, 2, dtype=torch.float64)
        assert (flow.log_prob(x) - make_flow("realnvp", 2).double().log_prob(x)).abs().max() > 0.05
    assert _grid_mass(flow) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", ["planar", "radial", "maf", "glow", "nsf", "nsf_ar"])
def test_other_families_integrate_to_one(name: str) -> None:
    flow = make_flow(name, 2, num_layers=3, hidden=16).double()
    if name == "glow":
        flow.log_prob(torch.randn(256, 2, dtype=torch.float64))  # ActNorm's data-dependent init
    _perturb(flow, 0.1)
    assert _grid_mass(flow) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", DISCRETE)
def test_sample_shapes_temperature_and_log_prob(name: str) -> None:
    flow = make_flow(name, 3, num_layers=2, hidden=16)
    flow.log_prob(torch.randn(128, 3))  # data-dependent initialization (Glow's ActNorm)
    _perturb(flow, 0.1)
    flow.eval()
    assert flow.sample(5).shape == (5, 3)
    assert flow.sample((2, 4)).shape == (2, 4, 3)
    # temperature 0: every sample is the image of the base's mode z = 0
    t: Transform = flow.transform
    mode, _ = t.inverse(torch.zeros(1, 3))
    cold = flow.sample(4, temperature=0.0)
    torch.testing.assert_close(cold, mode.expand(4, 3), atol=1e-5, rtol=1e-5)
    # a smaller temperature concentrates the samples
    torch.manual_seed(0)
    hot = flow.sample(2000, temperature=1.0)
    torch.manual_seed(0)
    warm = flow.sample(2000, temperature=0.5)
    assert (warm - mode).norm(dim=-1).mean() < (hot - mode).norm(dim=-1).mean()
    # sample_and_log_prob agrees with log_prob at its samples
    x, lp = flow.sample_and_log_prob(64)
    assert x.shape == (64, 3) and lp.shape == (64,)
    torch.testing.assert_close(lp, flow.log_prob(x).detach(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", DISCRETE)
def test_conditional_flow_over_point_clouds(name: str) -> None:
    """(B, N, 3) points conditioned on a (B, C) latent: density, samples and rsample gradients."""
    flow = make_flow(name, 3, context_features=4, num_layers=2, hidden=16)
    flow.log_prob(torch.randn(2, 64, 3), torch.randn(2, 4))  # ActNorm's data-dependent init
    _perturb(flow, 0.1)
    flow.eval()
    ctx = torch.randn(2, 4)
    x = torch.randn(2, 10, 3)
    assert flow.log_prob(x, ctx).shape == (2, 10)
    samples = flow.sample(7, ctx)
    assert samples.shape == (2, 7, 3)
    x_s, lp = flow.sample_and_log_prob(7, ctx)
    assert x_s.shape == (2, 7, 3) and lp.shape == (2, 7)
    torch.testing.assert_close(lp, flow.log_prob(x_s, ctx).detach(), atol=1e-4, rtol=1e-4)
    # the context matters
    assert not torch.allclose(flow.log_prob(x, ctx), flow.log_prob(x, ctx + 1))
    # reparametrized samples carry gradients to the parameters and the context
    ctx.requires_grad_(True)
    flow.rsample(3, ctx).pow(2).sum().backward()
    assert ctx.grad is not None and torch.isfinite(ctx.grad).all()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in flow.parameters())


def test_log_prob_trains_by_gradient() -> None:
    flow = make_flow("realnvp", 2, num_layers=2, hidden=8)
    x = torch.randn(32, 2)
    (-flow.log_prob(x).mean()).backward()
    assert all(p.grad is not None for p in flow.parameters())


def test_realnvp_with_batch_norm_is_exact_in_eval() -> None:
    flow = make_flow("realnvp", 2, num_layers=2, hidden=8, batch_norm=True)
    flow.train()
    flow.log_prob(3 * torch.randn(128, 2) + 1)
    flow.eval()
    x, lp = flow.sample_and_log_prob(50)
    torch.testing.assert_close(lp, flow.log_prob(x).detach(), atol=1e-4, rtol=1e-4)
