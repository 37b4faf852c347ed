"""Every discrete transform, conditional or not, in 2-D and 3-D and on (B, N, D) inputs:
exact inverses, consistent log-determinants, and log-determinants that match the full
autograd Jacobian."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
import torch

from flowstudio.flows import Compose, brute_force_logdet
from flowstudio.flows.core import Transform

C = 4  # context features of the conditional variants


def _perturb(t: Transform, scale: float = 0.3) -> Transform:
    """Move every parameter away from its (identity) initialization, seeded."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in t.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return t


def _mod(name: str):
    return importlib.import_module(f"flowstudio.flows.{name}")


def _nets():
    return _mod("nets")


def _batchnorm(d: int) -> Transform:
    bn = _mod("batchnorm").MovingBatchNorm(d)
    bn.train()
    for _ in range(3):  # move the running averages away from (0, 1)
        bn(2.0 * torch.randn(64, d) + 1.0)
    return bn


def _actnorm(d: int) -> Transform:
    an = _mod("glow").ActNorm(d)
    an(3.0 * torch.randn(32, d) - 2.0)  # data-dependent initialization
    return an


# name -> factory(features, context_features) -> Transform. Conditional factories have a "|c" suffix.
FACTORIES: dict[str, Callable[[int, int], Transform]] = {
    "additive": lambda d, c: _mod("nice").AdditiveCoupling(d, _nets().alternating_mask(d, 0), c, 16),
    "diag_scaling": lambda d, c: _mod("nice").DiagonalScaling(d),
    "affine_soft": lambda d, c: _mod("realnvp").AffineCoupling(d, _nets().alternating_mask(d, 1), c, 16),
    "affine_tanh": lambda d, c: _mod("realnvp").AffineCoupling(
        d, _nets().half_mask(d, 0), c, 16, scale_fn="tanh"
    ),
    "affine_none": lambda d, c: _mod("realnvp").AffineCoupling(
        d, _nets().alternating_mask(d, 0), c, 16, scale_fn="none"
    ),
    "moving_batchnorm": lambda d, c: _batchnorm(d),
    "actnorm": lambda d, c: _actnorm(d),
    "invertible_linear": lambda d, c: _mod("glow").InvertibleLinear(d),
    "planar": lambda d, c: _mod("planar").PlanarTransform(d, c, hidden=8),
    "radial": lambda d, c: _mod("planar").RadialTransform(d, c, hidden=8),
    "maf": lambda d, c: _mod("autoregressive").MAF(d, c, hidden=16),
    "nsf_coupling": lambda d, c: _mod("nsf").RQSplineCoupling(
        d, _nets().alternating_mask(d, 1), c, 16, spline=_mod("splines").SplineOptions(bins=5)
    ),
    "nsf_ar": lambda d, c: _mod("nsf").RQSplineAutoregressive(
        d, c, hidden=16, spline=_mod("splines").SplineOptions(bins=5)
    ),
    "iaf": lambda d, c: _mod("autoregressive").IAF(d, c, hidden=16),
    "inverse_of_affine": lambda d, c: _mod("realnvp")
    .AffineCoupling(d, _nets().alternating_mask(d, 0), c, 16)
    .inv,
    "random_perm": lambda d, c: _mod("permutations").RandomPermutation(d, seed=3),
    "reverse_perm": lambda d, c: _mod("permutations").ReversePermutation(d),
    # GraphAF's step flow: the context is its MLPs' hidden pre-activation (2 layers x C/2).
    "conditional_affine|rotation": lambda d, c: _mod("conditional_affine").ConditionalAffineStack(
        d, num_layers=2, hidden=c // 2, scale_bound=2.0, rotation=True
    ),
    "conditional_affine": lambda d, c: _mod("conditional_affine").ConditionalAffineStack(
        d, num_layers=2, hidden=c // 2, scale_bound=2.0
    ),
}
CONDITIONAL_ONLY = {"conditional_affine", "conditional_affine|rotation"}
"""Transforms that exist only with a context."""
CONDITIONAL = {
    "inverse_of_affine",
    *("additive", "affine_soft", "affine_tanh", "affine_none"),
    *("planar", "radial", "maf", "iaf", "nsf_coupling", "nsf_ar"),
    *CONDITIONAL_ONLY,
}

CASES = [(name, d, 0) for name in FACTORIES if name not in CONDITIONAL_ONLY for d in (2, 3)] + [
    (name, d, C) for name in sorted(CONDITIONAL) for d in (2, 3)
]


def _ids(case: tuple[str, int, int]) -> str:
    name, d, c = case
    return f"{name}-{d}d" + ("-cond" if c else "")


def _build(name: str, d: int, c: int) -> Transform:
    t = _perturb(FACTORIES[name](d, c)).double()
    t.eval()
    return t


def _data(shape: tuple[int, ...], d: int, c: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.randn(*shape, d, dtype=torch.float64)
    ctx = torch.randn(shape[0], c, dtype=torch.float64) if c else None
    return x, ctx


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_inverse_undoes_forward_and_logdets_cancel(case: tuple[str, int, int]) -> None:
    name, d, c = case
    t = _build(name, d, c)
    for shape in ((7,), (3, 5)):
        x, ctx = _data(shape, d, c)
        z, ld_f = t(x, ctx)
        assert z.shape == x.shape and ld_f.shape == shape
        x_back, ld_i = t.inverse(z, ctx)
        torch.testing.assert_close(x_back, x, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(ld_i, -ld_f, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_logdet_matches_autograd_jacobian(case: tuple[str, int, int]) -> None:
    name, d, c = case
    t = _build(name, d, c)
    x, ctx = _data((5,), d, c)
    _, ld = t(x, ctx)
    torch.testing.assert_close(ld, brute_force_logdet(t, x, ctx), atol=1e-6, rtol=1e-6)
    # and the inverse's log-determinant, at points of the noise space
    z, _ = t(x, ctx)
    _, ld_inv = t.inverse(z, ctx)
    torch.testing.assert_close(ld_inv, brute_force_logdet(t.inv, z, ctx), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_conditional_points_share_their_cloud_context(name: str) -> None:
    """(B, N, D) points with a (B, C) context equal the per-point (B*N, D) computation
    with the context repeated, and the context really changes the output."""
    t = _build(name, 3, C)
    x, ctx = _data((2, 6), 3, C)
    z, ld = t(x, ctx)
    z_flat, ld_flat = t(x.reshape(12, 3), ctx.repeat_interleave(6, dim=0))
    torch.testing.assert_close(z, z_flat.reshape(2, 6, 3))
    torch.testing.assert_close(ld, ld_flat.reshape(2, 6))
    z_other, _ = t(x, ctx + 1.0)
    assert not torch.allclose(z, z_other)


def test_identity_at_initialization() -> None:
    """Zero-initialized last layers make couplings start as the identity map."""
    nets, realnvp, nice = _nets(), _mod("realnvp"), _mod("nice")
    x = torch.randn(10, 3)
    for t in (
        realnvp.AffineCoupling(3, nets.alternating_mask(3, 0)),
        nice.AdditiveCoupling(3, nets.half_mask(3, 1)),
    ):
        z, ld = t(x)
        torch.testing.assert_close(z, x)
        torch.testing.assert_close(ld, torch.zeros(10))


def test_masks_cover_every_feature() -> None:
    nets = _nets()
    for d in (2, 3, 5):
        for make in (nets.alternating_mask, nets.half_mask):
            a, b = make(d, 0), make(d, 1)
            assert torch.equal(a, ~b) and 0 < int(a.sum()) < d
    assert nets.alternating_mask(3, 0).tolist() == [True, False, True]


def test_compose_of_everything_inverts() -> None:
    d = 3
    names = [n for n in FACTORIES if n not in CONDITIONAL_ONLY]
    t = Compose(*[_perturb(FACTORIES[n](d, 0)) for n in names]).double().eval()
    x, _ = _data((9,), d, 0)
    z, ld = t(x)
    x_back, ld_i = t.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ld, -ld_i, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ld, brute_force_logdet(t, x), atol=1e-6, rtol=1e-6)


def test_batchnorm_training_uses_batch_statistics_and_eval_is_exact() -> None:
    bn = _mod("batchnorm").MovingBatchNorm(3, momentum=0.5)
    x = 3.0 * torch.randn(2, 200, 3) - 1.0  # (B, N, D): statistics over all B*N points
    bn.train()
    z, ld = bn(x)
    flat = z.reshape(-1, 3)
    torch.testing.assert_close(flat.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert ld.shape == (2, 200)
    expected_mean = 0.5 * x.reshape(-1, 3).mean(0)
    torch.testing.assert_close(bn.running_mean, expected_mean)
    bn.eval()
    z, ld = bn(x)
    x_back, ld_i = bn.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ld, -ld_i)
    assert bn.state_dict()["running_var"].shape == (3,)


def test_actnorm_initializes_from_the_first_batch_once_and_survives_a_checkpoint() -> None:
    glow = _mod("glow")
    an = glow.ActNorm(3)
    assert not bool(an.initialized)
    x = torch.tensor([5.0, -2.0, 0.5]) + torch.tensor([3.0, 0.1, 10.0]) * torch.randn(4, 100, 3)
    z, ld = an(x)
    flat = z.reshape(-1, 3)
    torch.testing.assert_close(flat.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    assert bool(an.initialized) and ld.shape == (4, 100)
    # a second batch does not re-initialize
    bias = an.bias.detach().clone()
    an(torch.randn(50, 3))
    torch.testing.assert_close(an.bias.detach(), bias)
    # a fresh layer loading the checkpoint keeps the trained values on its first batch
    fresh = glow.ActNorm(3)
    fresh.load_state_dict(an.state_dict())
    assert "initialized" in an.state_dict() and bool(fresh.initialized)
    fresh(torch.randn(50, 3) * 100)
    torch.testing.assert_close(fresh.bias.detach(), bias)
    # loading an uninitialized state makes the next forward batch initialize again
    fresh.load_state_dict(glow.ActNorm(3).state_dict())
    fresh(x)
    torch.testing.assert_close(fresh.bias.detach(), bias)
    # the inverse before any forward leaves it uninitialized (identity)
    other = glow.ActNorm(2)
    y, ld = other.inverse(torch.ones(3, 2))
    torch.testing.assert_close(y, torch.ones(3, 2))
    assert not bool(other.initialized)


def test_invertible_linear_starts_as_rotation_and_logdet_is_slogdet() -> None:
    lin = _mod("glow").InvertibleLinear(4)
    w = lin.weight().detach()
    torch.testing.assert_close(w @ w.T, torch.eye(4), atol=1e-5, rtol=0)
    _perturb(lin)
    _, ld = lin(torch.randn(2, 4))
    torch.testing.assert_close(ld[0], torch.linalg.slogdet(lin.weight())[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["planar", "radial"])
def test_planar_radial_inverse_float32_vectorized_and_near_the_constraint(kind: str) -> None:
    """The root-find inverse is accurate to 1e-5 in float32, for many samples at once; and,
    in float64, where the map is close to non-invertible (u_hat.w -> -1, beta -> -alpha),
    which is ill-conditioned for any method in float32."""
    planar = _mod("planar")
    for extreme in (False, True):
        t = planar.PlanarTransform(3) if kind == "planar" else planar.RadialTransform(3)
        dtype = torch.float64 if extreme else torch.float32
        with torch.no_grad():
            if kind == "planar":
                t.params.copy_(
                    torch.tensor([-4.0, -4.0, -4.0, 1.0, 1.0, 1.0, 0.3])
                    if extreme
                    else torch.tensor([2.0, -1.0, 0.5, 1.5, 0.2, -0.7, 0.3])
                )
            else:
                t.params.copy_(torch.tensor([0.2, -0.1, 0.3, 0.5, -8.0 if extreme else 1.5]))
        t = t.to(dtype)
        x = 2.0 * torch.randn(20000, 3, dtype=dtype)
        z, ld = t(x)
        x_back, ld_i = t.inverse(z)
        assert (x_back - x).abs().max() < 1e-5 * max(1.0, float(x.abs().max()))
        torch.testing.assert_close(ld_i, -ld, atol=1e-4, rtol=1e-4)


def test_made_is_autoregressive_and_the_passes_count() -> None:
    ar = _mod("autoregressive")
    d = 5
    for cls in (ar.MAF, ar.IAF):
        t = _perturb(cls(d, C, hidden=16)).double()
        x, ctx = _data((1,), d, C)
        jac = torch.autograd.functional.jacobian(lambda v, t=t, ctx=ctx: t.made(v, ctx)[..., 0], x)[0, :, 0]
        assert torch.all(jac.triu() == 0), "output i must not depend on x_>=i"
        assert torch.any(jac.tril(-1) != 0)
        calls = []
        hook = t.made.register_forward_hook(lambda *a, calls=calls: calls.append(1))
        t(x, ctx)
        n_density = len(calls)
        t.inverse(x, ctx)
        n_sampling = len(calls) - n_density
        hook.remove()
        if cls is ar.MAF:
            assert (n_density, n_sampling) == (1, d)
        else:
            assert (n_density, n_sampling) == (d, 1)


def test_planar_inverse_is_differentiable_through_the_root_find() -> None:
    """Sampling gradients (rsample) flow through the bisection by the implicit function theorem."""
    t = _perturb(_mod("planar").PlanarTransform(2, C, hidden=4)).double()
    z, ctx = _data((4,), 2, C)
    z.requires_grad_(True)
    ctx.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z, c: t.inverse(z, c)[0], (z, ctx))
    weights = torch.randn(4, 2, dtype=torch.float64)

    def loss() -> torch.Tensor:
        return (t.inverse(z.detach(), ctx.detach())[0] * weights).sum()

    (grad,) = torch.autograd.grad(loss(), [t.params])
    numeric = torch.zeros_like(grad)
    with torch.no_grad():
        for k in range(t.params.numel()):
            t.params[k] += 1e-6
            up = loss()
            t.params[k] -= 2e-6
            down = loss()
            t.params[k] += 1e-6
            numeric[k] = (up - down) / 2e-6
    torch.testing.assert_close(grad, numeric, atol=1e-6, rtol=1e-5)
