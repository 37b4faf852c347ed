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
    "random_perm": lambda d, c: _mod("permutations").RandomPermutation(d, seed=3),
    "reverse_perm": lambda d, c: _mod("permutations").ReversePermutation(d),
}
CONDITIONAL = {"additive", "affine_soft", "affine_tanh", "affine_none"}

CASES = [(name, d, 0) for name in FACTORIES for d in (2, 3)] + [
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
    t = Compose(*[_perturb(FACTORIES[n](d, 0)) for n in FACTORIES]).double().eval()
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
