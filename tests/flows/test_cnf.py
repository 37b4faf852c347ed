"""Continuous normalizing flows: exactness of the log-density, regularization, solvers, NFE."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from torch import nn

from flowstudio.flows.cnf import CNF, ODESolverError, make_cnf_flow
from flowstudio.flows.cnf_control import count_nfe, regularization_terms, reset_nfe
from flowstudio.flows.distributions import StandardNormal
from flowstudio.flows.divergence import exact_divergence, hutchinson_divergence, sample_noise
from flowstudio.flows.flow import Flow
from flowstudio.flows.odenets import ODENet
from flowstudio.flows.odesolve import power_grid


def _cnf(**options) -> CNF:
    options.setdefault("hidden", (32, 32))
    return CNF(options.pop("features", 2), options.pop("context_features", 0), **options)


class LinearField(nn.Module):
    """dz/dt = A z: z(t) = exp(tA) z(0) and log|det dz(T)/dz(0)| = T tr A."""

    def __init__(self, A: torch.Tensor) -> None:
        super().__init__()
        self.A = nn.Parameter(A.clone())

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return z @ self.A.T


class Field(nn.Module):
    """A hand-written field ``fn(t, z)`` for the failure tests."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.scale * self.fn(t, z)


A = torch.tensor([[-0.3, 0.8], [-0.5, 0.2]], dtype=torch.float64)


@pytest.fixture(autouse=True)
def _one_thread():
    """ODE solves run many tiny ops: a second thread only adds synchronization, which on a
    loaded shared machine slows them down by an order of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the hand-written forward-mode Jacobian ---------------------------------------------


class AutogradOnly(nn.Module):
    """An ODENet seen without its ``forward_and_jacobian``: the solver falls back to
    autograd's vector-Jacobian products."""

    def __init__(self, net: ODENet) -> None:
        super().__init__()
        self.inner = net

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.inner(t, z, context)


@pytest.mark.parametrize("activation", ["softplus", "tanh"])
def test_forward_mode_jacobian_matches_autograd(activation: str) -> None:
    torch.manual_seed(0)
    net = ODENet(4, 3, (16, 8), activation).double()
    z = torch.randn(2, 7, 4, dtype=torch.float64, requires_grad=True)
    context = torch.randn(2, 1, 3, dtype=torch.float64)
    t = torch.tensor(0.4, dtype=torch.float64)
    f, jac = net.forward_and_jacobian(t, z, context)
    torch.testing.assert_close(f, net(t, z, context))
    rows = [torch.autograd.grad(f[..., i].sum(), z, retain_graph=True)[0] for i in range(4)]
    torch.testing.assert_close(jac, torch.stack(rows, -2))


def test_cnf_with_forward_mode_jacobian_matches_the_autograd_trace() -> None:
    """Same weights, same solve: log-determinant, RNODE terms and gradients agree."""
    results = []
    for wrap in (False, True):
        torch.manual_seed(3)
        cnf = _cnf(features=3, context_features=2, kinetic_weight=0.1, jacobian_weight=0.1, augment_dims=1)
        cnf = cnf.double()
        if wrap:
            cnf.net = AutogradOnly(cnf.net)
        x = torch.randn(2, 5, 3, dtype=torch.float64)
        context = torch.randn(2, 2, dtype=torch.float64)
        z, logdet = cnf(x, context)
        terms = regularization_terms(cnf)
        (logdet.sum() + sum(terms.values())).backward()
        grads = torch.cat([p.grad.reshape(-1) for p in cnf.parameters()])
        results.append((z, logdet, terms["kinetic"], terms["jacobian"], grads))
    for fast, slow in zip(*results, strict=True):
        torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-5)


# --- round trip, conditioning, shapes --------------------------------------------------


@pytest.mark.parametrize("adjoint", [False, True])
def test_inverse_undoes_forward(adjoint: bool) -> None:
    cnf = _cnf(features=3, adjoint=adjoint).eval()
    x = torch.randn(64, 3)
    z, logdet = cnf(x)
    x_back, logdet_back = cnf.inverse(z)
    assert z.shape == x.shape and logdet.shape == (64,)
    assert not torch.allclose(z, x, atol=1e-2)
    torch.testing.assert_close(x_back, x, atol=1e-3, rtol=0)
    torch.testing.assert_close(logdet_back, -logdet, atol=1e-3, rtol=0)


def test_conditional_point_sets_get_gradients_to_the_context() -> None:
    for adjoint in (False, True):
        cnf = _cnf(features=3, context_features=5, adjoint=adjoint)
        x = torch.randn(2, 40, 3)
        context = torch.randn(2, 5, requires_grad=True)
        z, logdet = cnf(x, context)
        assert z.shape == (2, 40, 3) and logdet.shape == (2, 40)
        (z.pow(2).sum() - logdet.sum()).backward()
        assert context.grad is not None and context.grad.abs().sum() > 0
        # each shape is transported by its own context: points do not mix across shapes
        z_first, _ = cnf(x[:1], context[:1])
        torch.testing.assert_close(z_first, z[:1], atol=1e-4, rtol=0)
        x_back, _ = cnf.inverse(z.detach(), context.detach())
        torch.testing.assert_close(x_back, x, atol=1e-3, rtol=0)


def test_adjoint_gradients_match_direct_backpropagation() -> None:
    grads = []
    for adjoint in (False, True):
        torch.manual_seed(1)
        cnf = _cnf(
            features=3, context_features=2, adjoint=adjoint, atol=1e-7, rtol=1e-7, train_end_time=True,
            augment_dims=1, kinetic_weight=0.1, jacobian_weight=0.1,
        ).double()
        x = torch.randn(2, 10, 3, dtype=torch.float64)
        context = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
        z, logdet = cnf(x, context)
        (z.pow(2).sum() - logdet.sum() + sum(regularization_terms(cnf).values())).backward()
        grads.append(torch.cat([context.grad.reshape(-1), *[p.grad.reshape(-1) for p in cnf.parameters()]]))
    torch.testing.assert_close(grads[1], grads[0], atol=1e-4, rtol=1e-3)


def test_flow_log_prob_and_sampling_shapes() -> None:
    flow = make_cnf_flow(2, hidden=(16, 16), blocks=2).eval()
    x = flow.sample(10)
    assert x.shape == (10, 2)
    assert flow.log_prob(x).shape == (10,)
    assert count_nfe(flow)[0] > 0
    assert regularization_terms(flow) == {}


def test_trajectory_runs_from_noise_to_data() -> None:
    cnf = _cnf(end_time=0.5).eval()
    z = torch.randn(7, 2)
    path = cnf.trajectory(z, times=torch.linspace(0.5, 0.0, 6))
    assert path.shape == (6, 7, 2)
    torch.testing.assert_close(path[0], z)
    torch.testing.assert_close(path[-1], cnf.inverse(z)[0], atol=1e-4, rtol=0)
    assert cnf.trajectory(z, times=torch.tensor([0.25, 0.0])).shape == (2, 7, 2)
    with pytest.raises(ValueError, match="decreasing"):
        cnf.trajectory(z, times=torch.tensor([0.0, 0.5]))


def test_batch_norm_between_blocks() -> None:
    pytest.importorskip("flowstudio.flows.batchnorm")
    flow = make_cnf_flow(3, blocks=2, batch_norm=True, hidden=(16, 16))
    x = torch.randn(4, 30, 3) * 3 + 1
    flow.log_prob(x).mean().backward()
    flow.eval()
    z, _ = flow.transform(x)
    torch.testing.assert_close(flow.transform.inverse(z)[0], x, atol=1e-3, rtol=0)


def test_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="step_size"):
        CNF(2, solver="rk4")
    with pytest.raises(ValueError, match="trace"):
        CNF(2, trace="skilling")
    with pytest.raises(ValueError, match="end_time"):
        CNF(2, end_time=0.0)


# --- the log-density is exact ----------------------------------------------------------


def test_linear_ode_matches_closed_forms() -> None:
    T = 0.7
    cnf = CNF(2, net=LinearField(A), end_time=T, atol=1e-9, rtol=1e-9).double()
    flow = Flow(cnf, StandardNormal(2))
    x = torch.randn(16, 2, dtype=torch.float64)
    z_true = x @ torch.linalg.matrix_exp(T * A).T
    logp_true = -0.5 * z_true.pow(2).sum(-1) - math.log(2 * math.pi) + T * torch.trace(A)
    torch.testing.assert_close(flow.log_prob(x), logp_true, atol=1e-6, rtol=0)  # training mode

    # ∫_0^T ||A exp(tA) x||^2 dt by Simpson's rule on the matrix exponential
    ts = torch.linspace(0, T, 2001, dtype=torch.float64)
    speed = torch.stack([(x @ (A @ torch.linalg.matrix_exp(t * A)).T).pow(2).sum(-1) for t in ts])
    w = torch.ones(len(ts), dtype=torch.float64)
    w[1:-1:2], w[2:-1:2] = 4, 2
    kinetic = (w[:, None] * speed).sum(0) * (ts[1] - ts[0]) / 3
    torch.testing.assert_close(cnf.regularization["kinetic"], kinetic.mean(), atol=1e-6, rtol=0)
    torch.testing.assert_close(cnf.regularization["jacobian"], A.pow(2).sum() * T, atol=1e-7, rtol=0)

    cnf.kinetic_weight, cnf.jacobian_weight = 0.1, 0.01
    terms = regularization_terms(flow)
    torch.testing.assert_close(terms["jacobian"], 0.01 * A.pow(2).sum() * T)
    cnf.eval()
    flow.log_prob(x)
    assert cnf.regularization == {}  # only computed while training


def test_learned_end_time_is_positive_and_differentiable() -> None:
    cnf = CNF(2, net=LinearField(A), end_time=0.3, train_end_time=True).double()
    _, logdet = cnf(torch.randn(3, 2, dtype=torch.float64))
    logdet.mean().backward()
    # d(T tr A)/dθ with T = softplus(θ)
    expected = torch.trace(A) * torch.sigmoid(cnf.raw_end_time.detach())
    torch.testing.assert_close(cnf.raw_end_time.grad, expected, atol=1e-5, rtol=0)
    assert float(cnf.end_time.detach()) == pytest.approx(0.3)


def test_augmented_log_density_is_the_joint_density_at_zero() -> None:
    # A block-diagonal field never moves the augmented coordinates away from 0.
    A_full = torch.zeros(4, 4, dtype=torch.float64)
    A_full[:2, :2], A_full[2:, 2:] = A, torch.tensor([[0.4, 0.0], [0.3, -0.1]], dtype=torch.float64)
    T = 0.5
    cnf = CNF(2, net=LinearField(A_full), end_time=T, augment_dims=2, atol=1e-9, rtol=1e-9).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    logp = Flow(cnf, StandardNormal(2)).log_prob(x)
    z = x @ torch.linalg.matrix_exp(T * A).T
    expected = -0.5 * z.pow(2).sum(-1) - 2 * math.log(2 * math.pi) + T * torch.trace(A_full)
    torch.testing.assert_close(logp, expected, atol=1e-6, rtol=0)
    assert cnf.inverse(z)[0].shape == (5, 2)
    assert cnf.trajectory(z, times=torch.tensor([0.5, 0.0])).shape == (2, 5, 2)


def test_density_of_a_random_cnf_integrates_to_one() -> None:
    torch.manual_seed(3)
    cnf = _cnf(hidden=(32, 32), activation="tanh", end_time=1.0, atol=1e-6, rtol=1e-6).eval()
    with torch.no_grad():
        for p in cnf.net.parameters():
            p.mul_(2.0)  # a field strong enough to bend the Gaussian visibly
        flow = Flow(cnf, StandardNormal(2))
        axis = torch.linspace(-7, 7, 141)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
        logp = flow.log_prob(grid)
        base = StandardNormal(2).log_prob(grid)
    cell = float(axis[1] - axis[0]) ** 2
    assert (logp.exp() - base.exp()).abs().sum() * cell > 0.1  # not the base density
    assert float(logp.exp().sum() * cell) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_agrees_with_the_exact_trace_in_expectation(noise: str) -> None:
    torch.manual_seed(4)
    net = ODENet(3, 0, (32, 32), "tanh").double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    z = torch.randn(4, 1, 3, dtype=torch.float64).expand(4, 20000, 3).clone().requires_grad_(True)
    f = net(torch.tensor(0.3), z)
    div, frob = exact_divergence(f, z, create_graph=True, frobenius=True)  # keeps the graph for one more
    est_div, est_frob = hutchinson_divergence(
        f, z, sample_noise(z, noise), create_graph=False, frobenius=True
    )
    for exact, estimate in ((div, est_div), (frob, est_frob)):
        stderr = estimate.std(1) / math.sqrt(estimate.shape[1])
        assert ((estimate.mean(1) - exact[:, 0]).abs() < 4 * stderr + 1e-9).all()
        assert (estimate.std(1) > 1e-3).all()  # an estimate, not the exact value

    # through a whole solve: one noise draw per row, averaged over many rows
    exact_cnf = _cnf(features=3, activation="tanh").eval().double()
    hutch_cnf = _cnf(features=3, activation="tanh", trace="hutchinson", noise=noise).eval().double()
    hutch_cnf.load_state_dict(exact_cnf.state_dict())
    x = torch.randn(2, 1, 3, dtype=torch.float64)
    _, logdet = exact_cnf(x)
    _, estimates = hutch_cnf(x.expand(2, 4000, 3))
    stderr = estimates.std(1) / math.sqrt(estimates.shape[1])
    assert ((estimates.mean(1) - logdet[:, 0]).abs() < 4 * stderr + 1e-6).all()


def test_hutchinson_noise_is_fixed_during_a_solve() -> None:
    # For dz/dt = A z and a fixed Rademacher e, logdet = T e^T A e: one of two values in 2-D.
    cnf = CNF(2, net=LinearField(A), trace="hutchinson", noise="rademacher").double()
    _, logdet = cnf(torch.randn(200, 2, dtype=torch.float64))
    allowed = torch.tensor([torch.trace(A) + s * (A[0, 1] + A[1, 0]) for s in (1, -1)], dtype=torch.float64)
    assert (logdet[:, None] - allowed).abs().min(1).values.max() < 1e-6


# --- solvers, NFE and failures -----------------------------------------------------------


def test_fixed_step_solvers_match_dopri5() -> None:
    torch.manual_seed(5)
    reference = _cnf(activation="tanh").eval()
    x = torch.randn(50, 2)
    z_ref, logdet_ref = reference(x)
    for solver, step, tol in (("rk4", 0.1, 1e-3), ("midpoint", 0.02, 1e-2), ("euler", 0.005, 5e-2)):
        cnf = _cnf(activation="tanh", solver=solver, step_size=step).eval()
        cnf.load_state_dict(reference.state_dict())
        reset_nfe(cnf)
        z, logdet = cnf(x)
        torch.testing.assert_close(z, z_ref, atol=tol, rtol=0)
        torch.testing.assert_close(logdet, logdet_ref, atol=tol, rtol=0)
    assert count_nfe(cnf) == (200, 0)  # euler: one evaluation per step


def test_hutchinson_trains_but_evaluation_uses_the_exact_trace() -> None:
    torch.manual_seed(0)
    hutch = _cnf(features=3, trace="hutchinson")
    exact = _cnf(features=3, trace="exact")
    exact.load_state_dict(hutch.state_dict())
    x = torch.randn(16, 3)
    hutch.eval()
    exact.eval()
    with torch.no_grad():
        first, second, reference = hutch(x)[1], hutch(x)[1], exact(x)[1]
    torch.testing.assert_close(first, second)  # no estimator noise when evaluating
    torch.testing.assert_close(first, reference)
    hutch.train()
    with torch.no_grad():
        assert not torch.allclose(hutch(x)[1], reference)  # training draws the estimate


def test_fixed_step_count_stays_constant_when_the_end_time_grows() -> None:
    """``steps`` divides the current [0, T]; a fixed ``step_size`` makes more steps as T grows."""
    x = torch.randn(8, 2)
    by_count = _cnf(solver="rk4", steps=3, train_end_time=True)
    by_size = _cnf(solver="rk4", step_size=1 / 3, train_end_time=True)
    for end_time, expected_by_size in ((1.0, 12), (3.0, 36)):
        for cnf in (by_count, by_size):
            with torch.no_grad():
                cnf.raw_end_time.fill_(math.log(math.expm1(end_time)))
            cnf.reset_nfe()
            with torch.no_grad():
                cnf(x)
        assert by_count.nfe_forward == 12  # 3 RK4 steps of 4 evaluations, whatever T
        assert by_size.nfe_forward == expected_by_size
    with pytest.raises(ValueError, match="steps"):
        _cnf(solver="rk4", steps=0)


def test_a_power_grid_crowds_the_steps_toward_t_zero_in_either_direction() -> None:
    grid = power_grid(0.25, 2.0)
    up = grid(None, None, torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(up, torch.tensor([0.0, 1 / 16, 1 / 4, 9 / 16, 1.0]))
    down = grid(None, None, torch.tensor([1.0, 0.0]))  # sampling runs from T to 0
    torch.testing.assert_close(down, up.flip(0))
    even = power_grid(0.25, 1.0)(None, None, torch.tensor([0.0, 0.5]))
    torch.testing.assert_close(even, torch.tensor([0.0, 0.25, 0.5]))


def test_steps_crowded_toward_the_data_solve_a_steep_field_that_even_steps_miss() -> None:
    # dz/dt = k z / (t + ε): z(t) = z(T) ((t + ε) / (T + ε))^k. Solved from T down to 0 it
    # contracts ever faster, the way a sharply trained CNF carries points onto a surface.
    k, eps = 1.5, 0.05
    contracting = Field(lambda t, z: k * z / (t + eps))
    z = torch.randn(64, 2, dtype=torch.float64)
    shrink = math.log(eps / (1 + eps)) * k
    errors = {}
    for power in (1.0, 2.0):
        cnf = CNF(2, net=contracting, solver="rk4", steps=4, step_power=power).double().eval()
        cnf.reset_nfe()
        with torch.no_grad():
            x, logdet = cnf.inverse(z)
        assert cnf.nfe_forward == 16  # the same four RK4 steps, placed elsewhere
        # log of the relative error of the state, and the log-determinant's error (2-D)
        state_error = float((x / z).log().sub(shrink).abs().max())
        errors[power] = (state_error, float((logdet - 2 * shrink).abs().max()))
    assert errors[2.0][0] < 0.25 and errors[2.0][1] < 0.05, errors
    assert errors[1.0][0] > 5 * errors[2.0][0] and errors[1.0][1] > 5 * errors[2.0][1], errors
    with pytest.raises(ValueError, match="step_power"):
        CNF(2, net=contracting, solver="rk4", steps=4, step_power=0.0)


@pytest.mark.parametrize("adjoint", [False, True])
def test_nfe_counters_count_forward_and_backward(adjoint: bool) -> None:
    flow = make_cnf_flow(2, blocks=2, hidden=(16, 16), adjoint=adjoint)
    x = torch.randn(32, 2)
    with torch.no_grad():
        flow.log_prob(x)
    forward, backward = count_nfe(flow)
    assert forward >= 2 * 8 and backward == 0
    flow.log_prob(x).mean().neg().backward()
    forward2, backward2 = count_nfe(flow)
    assert forward2 > forward and backward2 >= 2 * 6
    reset_nfe(flow)
    assert count_nfe(flow) == (0, 0)


def test_the_rnode_channels_stay_out_of_the_adjoint_solves_step_control() -> None:
    # The same solves with the two RNODE channels (training mode) and without them
    # (evaluation mode; the exact trace in both), the loss on z and log p alone: if the
    # channels and their adjoints never shrink a step, both take the same steps forward and
    # in the adjoint solve backward (a norm over every channel makes the backward differ).
    torch.manual_seed(0)
    flow = make_cnf_flow(2, hidden=(16,), adjoint=True, trace="exact", atol=1e-5, rtol=1e-5)
    x = 3 * torch.randn(64, 2)
    counts = []
    for training in (True, False):
        flow.train(training)
        reset_nfe(flow)
        flow.log_prob(x).mean().neg().backward()
        counts.append(count_nfe(flow))
    assert counts[0][1] > 0 and counts[0] == counts[1]


@pytest.mark.timeout(60)
def test_blow_up_raises_a_clear_error_quickly() -> None:
    # dz/dt = 20 z^2 leaves every bounded set before t = 1 / (20 z0).
    cnf = CNF(2, net=Field(lambda t, z: 20 * z.pow(2)), max_nfe=500)
    with pytest.raises(ODESolverError, match=r"dopri5.*atol") as info:
        cnf(torch.full((4, 2), 1.0))
    assert isinstance(info.value, RuntimeError)
    assert "max_nfe" in str(info.value) or "underflow" in str(info.value)


@pytest.mark.timeout(60)
def test_step_size_underflow_becomes_odesolvererror() -> None:
    nan_after_half = Field(lambda t, z: z * torch.where(t < 0.5, 1.0, float("nan")))
    with pytest.raises(ODESolverError, match="underflow"):
        CNF(2, net=nan_after_half)(torch.ones(3, 2))


def test_fallback_retries_with_fixed_step_rk4(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(6)
    reference = _cnf(activation="tanh").eval()
    x = torch.randn(20, 2)
    tight = _cnf(activation="tanh", atol=1e-10, rtol=1e-10, max_nfe=20, on_underflow="fallback").eval()
    tight.load_state_dict(reference.state_dict())
    with caplog.at_level(logging.WARNING, logger="flowstudio.flows.odesolve"):
        z, _ = tight(x)
    assert "Retrying with fixed-step rk4" in caplog.text
    torch.testing.assert_close(z, reference(x)[0], atol=1e-3, rtol=0)
    tight.on_underflow = "raise"
    with pytest.raises(ODESolverError, match="max_nfe"):
        tight(x)


# --- it learns ---------------------------------------------------------------------------


def _two_moons(n: int, generator: torch.Generator) -> torch.Tensor:
    angle = torch.rand(n, generator=generator) * math.pi
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x, y], -1) + 0.08 * torch.randn(n, 2, generator=generator)
    return (points - torch.tensor([0.5, 0.25])) / torch.tensor([0.85, 0.5])


def test_cnf_learns_two_moons_beyond_a_gaussian() -> None:
    generator = torch.Generator().manual_seed(0)
    train, test = _two_moons(2048, generator), _two_moons(2048, generator)
    gaussian = torch.distributions.MultivariateNormal(train.mean(0), torch.cov(train.T))
    gaussian_nll = -float(gaussian.log_prob(test).mean())

    flow = make_cnf_flow(2, hidden=(64, 64), activation="tanh", solver="rk4", step_size=0.25)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(200):
        batch = train[torch.randint(0, len(train), (128,), generator=generator)]
        loss = -flow.log_prob(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    flow.eval()
    with torch.no_grad():
        nll = -float(flow.log_prob(test).mean())
    assert gaussian_nll > 2.6
    assert nll < 2.2, (nll, gaussian_nll)  # about 1.9 after 200 steps
