"""Flow matching: the target field, the couplings, training to a density, few-step sampling."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from flowstudio.flows.cnf import CNF, make_cnf_flow
from flowstudio.flows.cnf_control import solver_override
from flowstudio.flows.matching import flow_matching_loss, ot_pairing, sample_path_times, straight_path


class DiracField(nn.Module):
    """The exact marginal field of the straight path when the data is one point ``x0``
    (sigma_min = 0): ``z_s = (1 - s) x0 + s ε`` gives ``dz/ds = ε - x0 = (z_s - x0) / s``."""

    def __init__(self, x0: torch.Tensor, end_time: float) -> None:
        super().__init__()
        self.x0, self.end_time = x0, end_time
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        s = t / self.end_time
        return (z - self.x0) / s / self.end_time


def test_straight_path_velocity_is_its_derivative() -> None:
    x, noise = torch.randn(5, 3), torch.randn(5, 3)
    s, h = torch.rand(5, 1) * 0.8 + 0.1, 1e-4
    z_plus, velocity = straight_path(x, noise, s + h, 0.05)
    z_minus, _ = straight_path(x, noise, s - h, 0.05)
    assert torch.allclose((z_plus - z_minus) / (2 * h), velocity, atol=1e-3)
    start, _ = straight_path(x, noise, torch.zeros(5, 1), 0.0)
    end, _ = straight_path(x, noise, torch.ones(5, 1), 0.0)
    assert torch.allclose(start, x) and torch.allclose(end, noise)


@pytest.mark.parametrize("end_time", [1.0, 0.5])
def test_the_exact_field_of_a_dirac_has_zero_loss(end_time: float) -> None:
    x0 = torch.tensor([0.3, -1.2])
    cnf = CNF(2, net=DiracField(x0, end_time), end_time=end_time)
    data = x0.expand(64, 2)
    assert float(flow_matching_loss(cnf, data)) < 1e-8
    # A field that is wrong by a constant pays that constant squared.
    cnf.net = _Shifted(DiracField(x0, end_time), 0.5)
    assert float(flow_matching_loss(cnf, data)) == pytest.approx(0.25, rel=1e-4)


class _Shifted(nn.Module):
    def __init__(self, net: nn.Module, shift: float) -> None:
        super().__init__()
        self.net, self.shift = net, shift

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(t, z, context) + self.shift


def test_ot_pairing_is_a_permutation_that_lowers_the_cost() -> None:
    torch.manual_seed(0)
    x, noise = torch.randn(3, 40, 3) + 2.0, torch.randn(3, 40, 3)
    paired = ot_pairing(x, noise)
    for b in range(3):  # the same points, re-ordered within their own shape
        assert torch.allclose(paired[b].sort(0).values, noise[b].sort(0).values)
    cost = (x - noise).pow(2).sum()
    assert float((x - paired).pow(2).sum()) < 0.8 * float(cost)
    flat = ot_pairing(x[0], noise[0])
    assert torch.allclose(flat, paired[0])


def test_time_distributions_stay_inside_the_unit_interval() -> None:
    like = torch.zeros(())
    for name in ("uniform", "logit_normal", "data_end"):
        s = sample_path_times(10_000, name, like=like)
        assert float(s.min()) >= 0 and float(s.max()) < 1
    middle = sample_path_times(10_000, "logit_normal", like=like)
    assert float(((middle > 0.25) & (middle < 0.75)).float().mean()) > 0.6  # uniform: 0.5
    near_data = sample_path_times(10_000, "data_end", like=like)  # s = u^2: P(s < 1/4) = 1/2
    assert abs(float((near_data < 0.25).float().mean()) - 0.5) < 0.03
    assert abs(float(near_data.mean()) - 1 / 3) < 0.02  # E[u^2]
    with pytest.raises(ValueError, match="time distribution"):
        sample_path_times(3, "beta", like=like)


def _mixture(n: int) -> torch.Tensor:
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    return centres[torch.randint(2, (n,))] + 0.3 * torch.randn(n, 2)


def _mixture_nll(x: torch.Tensor) -> float:
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    d2 = (x[:, None, :] - centres[None]).pow(2).sum(-1) / 0.09
    log_p = torch.logsumexp(-0.5 * d2, dim=1) - math.log(2) - math.log(2 * math.pi * 0.09)
    return float(-log_p.mean())


@pytest.mark.parametrize(
    ("coupling", "steps", "batch", "lr"), [("independent", 1500, 256, 3e-3), ("ot", 500, 128, 1e-2)]
)
def test_flow_matching_learns_a_two_mode_density_with_exact_likelihood(
    coupling: str, steps: int, batch: int, lr: float
) -> None:
    torch.manual_seed(0)
    flow = make_cnf_flow(2, hidden=(64, 64), solver="dopri5", atol=1e-5, rtol=1e-5)
    cnf = flow.transform.transforms[0]
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    for _ in range(steps):
        loss = flow_matching_loss(cnf, _mixture(batch), sigma_min=1e-3, coupling=coupling)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    flow.eval()
    test = _mixture(2000)
    with torch.no_grad():
        nll = float(-flow.log_prob(test).mean())
    gaussian_nll = 0.5 * float(torch.log(2 * math.pi * test.var(0)).sum()) + 1.0  # best single Gaussian
    truth = _mixture_nll(test)
    assert nll < truth + 0.35, (nll, truth)
    assert nll < gaussian_nll - 0.5
    samples = flow.sample(2000)
    left = float((samples[:, 0] < 0).float().mean())
    assert 0.4 < left < 0.6  # both modes, in proportion


def test_more_sampling_steps_converge_to_the_accurate_solve() -> None:
    torch.manual_seed(1)
    flow = make_cnf_flow(2, hidden=(32, 32))
    cnf = flow.transform.transforms[0]
    optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
    for _ in range(150):
        loss = flow_matching_loss(cnf, _mixture(128))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    noise = torch.randn(500, 2)
    with torch.no_grad(), solver_override(flow, solver="dopri5", atol=1e-7, rtol=1e-7):
        reference = flow.transform.inverse_value(noise)
    errors = []
    for steps in (1, 2, 4, 8, 16, 32):
        with torch.no_grad(), solver_override(flow, solver="euler", steps=steps):
            errors.append(float((flow.transform.inverse_value(noise) - reference).norm(dim=1).mean()))
    assert all(b < a for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.1 * errors[0]


class NoTraceNet(nn.Module):
    """A field that fails whenever autograd would differentiate it (a divergence)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if z.requires_grad:
            raise AssertionError("a divergence was computed")
        return self.linear(z)


def test_sampling_integrates_the_state_alone() -> None:
    flow = make_cnf_flow(2, net=NoTraceNet(), trace="exact")
    with torch.no_grad():
        x = flow.sample(16)
        assert x.shape == (16, 2)
        with pytest.raises(AssertionError, match="divergence"):
            flow.sample_and_log_prob(16)


def test_conditional_point_sets_train_and_reject_bad_options() -> None:
    torch.manual_seed(0)
    cnf = CNF(3, 4, hidden=(16,), augment_dims=1)
    points, context = torch.randn(2, 10, 3), torch.randn(2, 4, requires_grad=True)
    loss = flow_matching_loss(cnf, points, context, coupling="ot", time_distribution="logit_normal")
    loss.backward()
    assert context.grad is not None and float(context.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="coupling"):
        flow_matching_loss(cnf, points, context, coupling="sinkhorn")
    with pytest.raises(ValueError, match="sigma_min"):
        flow_matching_loss(cnf, points, context, sigma_min=1.0)


def test_given_noise_is_the_coupling_of_the_loss() -> None:
    """Reflow passes its own pairs: the loss regresses onto exactly (noise - x) / T."""
    torch.manual_seed(0)
    cnf = CNF(3, 4, hidden=(16,), end_time=0.5)
    x, noise, context = torch.randn(5, 7, 3), torch.randn(5, 7, 3), torch.randn(5, 4)
    torch.manual_seed(1)
    loss = flow_matching_loss(cnf, x, context, noise=noise)
    torch.manual_seed(1)
    s = torch.rand(5).reshape(5, 1, 1)  # the loss's only draw: one path time per shape
    z = (1 - s) * x + s * noise
    expected = (cnf.net(s * 0.5, z, context[:, None, :].expand(5, 7, 4)) - (noise - x) / 0.5).pow(2).mean()
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    with pytest.raises(ValueError, match="shaped like x"):
        flow_matching_loss(cnf, x, context, noise=noise[:, :3])
    with pytest.raises(ValueError, match="independent coupling"):
        flow_matching_loss(cnf, x, context, noise=noise, coupling="ot")
