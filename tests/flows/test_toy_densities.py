"""Each discrete family learns the two-moons density.

Data: two interleaved half circles with Gaussian noise, standardized (made here, seeded).
The best Gaussian (fitted mean and full covariance) has a held-out NLL of about 2.72 nats and
the untrained flows (a standard normal) about 2.83; every family, trained for 300 Adam steps
on batches of 256, must land well below: an untrained flow, a wrong log-determinant sign or
a broken inverse fails. Small nets keep the whole file under a minute on one core.
"""

from __future__ import annotations

import math

import pytest
import torch

from flowstudio.flows import make_flow

GAUSSIAN_FIT_NLL = 2.72  # measured on TEST below; asserted in test_the_thresholds_are_meaningful

# family -> (options, learning rate, NLL threshold). Seeded runs reach about
# planar 2.24, radial 2.13, nice 1.97, realnvp 1.91, glow 2.16, maf 2.24, iaf 2.29, and the
# spline flows with half the layers nsf 1.72, nsf_ar 1.73 (their threshold is below every
# affine family's result: a spline that degenerates to an affine map fails).
FAMILIES = {
    "planar": ({"num_layers": 16}, 1e-2, 2.45),
    "radial": ({"num_layers": 16}, 1e-2, 2.40),
    "nice": ({"num_layers": 4, "hidden": 32}, 3e-3, 2.20),
    "realnvp": ({"num_layers": 4, "hidden": 32}, 3e-3, 2.15),
    "glow": ({"num_layers": 3, "hidden": 32}, 3e-3, 2.40),
    "maf": ({"num_layers": 4, "hidden": 32}, 3e-3, 2.45),
    "iaf": ({"num_layers": 4, "hidden": 32}, 3e-3, 2.50),
    "nsf": ({"num_layers": 2, "hidden": 32}, 3e-3, 1.85),
    "nsf_ar": ({"num_layers": 2, "hidden": 32}, 3e-3, 1.85),
}
STEPS, BATCH = 300, 256


def moons(n: int, generator: torch.Generator, flip: torch.Tensor | None = None) -> torch.Tensor:
    """Standardized two moons; ``flip`` (n,) of +-1 mirrors the points upside down where -1."""
    t = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x, y], -1) + 0.08 * torch.randn(n, 2, generator=generator)
    pts = (pts - torch.tensor([0.5, 0.25])) / torch.tensor([0.87, 0.5])
    if flip is not None:
        pts = pts * torch.stack([torch.ones_like(flip), flip], -1)
    return pts


@pytest.fixture(scope="module")
def test_set() -> torch.Tensor:
    return moons(4000, torch.Generator().manual_seed(123))


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_thresholds_are_meaningful(test_set: torch.Tensor) -> None:
    mu, cov = test_set.mean(0), torch.cov(test_set.T)
    gaussian = -torch.distributions.MultivariateNormal(mu, cov).log_prob(test_set).mean().item()
    assert gaussian == pytest.approx(GAUSSIAN_FIT_NLL, abs=0.05)
    assert max(threshold for _, _, threshold in FAMILIES.values()) < gaussian - 0.2
    for name in FAMILIES:  # untrained flows fail
        with torch.no_grad():
            assert -make_flow(name, 2).log_prob(test_set).mean().item() > GAUSSIAN_FIT_NLL


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_learns_two_moons(name: str, test_set: torch.Tensor) -> None:
    options, lr, threshold = FAMILIES[name]
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    flow = make_flow(name, 2, **options)
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    for _ in range(STEPS):
        loss = -flow.log_prob(moons(BATCH, generator)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    flow.eval()
    with torch.no_grad():
        nll = -flow.log_prob(test_set).mean().item()
        samples = flow.sample(2000)
    assert nll < threshold, f"{name}: held-out NLL {nll:.3f} >= {threshold}"
    # the samples land on the data, not on the base: few in the empty middle of the lower moon
    assert torch.isfinite(samples).all()
    assert samples.mean(0).abs().max() < 0.3


def test_conditional_realnvp_learns_a_context_dependent_density() -> None:
    """Moons mirrored upside down when the context is -1: the flow must use its context."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    flow = make_flow("realnvp", 2, context_features=1, num_layers=4, hidden=32)
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(STEPS):
        flip = torch.where(torch.rand(BATCH, generator=generator) < 0.5, -1.0, 1.0)
        loss = -flow.log_prob(moons(BATCH, generator, flip), flip[:, None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    flow.eval()
    g = torch.Generator().manual_seed(5)
    up = torch.ones(2000)
    x_up = moons(2000, g, up)
    with torch.no_grad():
        right = -flow.log_prob(x_up, up[:, None]).mean().item()
        wrong = -flow.log_prob(x_up, -up[:, None]).mean().item()
        # (B, N, D) samples from a (B, C) context: one cloud per context row
        clouds = flow.sample(500, torch.tensor([[1.0], [-1.0]]))
    assert right < 2.3 and wrong > right + 1.0
    assert clouds.shape == (2, 500, 2)
    # the mirrored cloud is mirrored: its y-mean has the opposite sign
    assert clouds[0, :, 1].mean() * clouds[1, :, 1].mean() < 0
