"""Continuous normalizing flows: exactness of the log-density, regularization, solvers, NFE."""

from __future__ import annotations

import pytest
import torch

from flowstudio.flows.cnf import CNF, count_nfe, make_cnf_flow, regularization_terms


def _cnf(**options) -> CNF:
    options.setdefault("hidden", (32, 32))
    return CNF(options.pop("features", 2), options.pop("context_features", 0), **options)


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


def test_flow_log_prob_and_sampling_shapes() -> None:
    flow = make_cnf_flow(2, hidden=(16, 16), blocks=2).eval()
    x = flow.sample(10)
    assert x.shape == (10, 2)
    assert flow.log_prob(x).shape == (10,)
    assert count_nfe(flow)[0] > 0
    assert regularization_terms(flow) == {}
