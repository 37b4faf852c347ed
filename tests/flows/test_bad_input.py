"""Bad inputs fail early with messages that name the expected shape or the valid choices."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows import FAMILIES, AffineCoupling, Permutation, alternating_mask, make_flow

DISCRETE = ["planar", "radial", "nice", "realnvp", "glow", "maf", "iaf", "nsf", "nsf_ar"]


@pytest.fixture(params=DISCRETE)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_wrong_feature_count_names_the_expected_shape(name: str) -> None:
    flow = make_flow(name, 3, num_layers=1)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\).*got \(8, 2\)"):
        flow.log_prob(torch.randn(8, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        flow.transform.inverse(torch.randn(8, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        flow.log_prob(torch.tensor(1.0))


def test_integer_dtype_is_rejected(name: str) -> None:
    flow = make_flow(name, 2, num_layers=1)
    with pytest.raises(TypeError, match=r"floating-point.*int64"):
        flow.log_prob(torch.ones(4, 2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        flow.log_prob([[0.0, 1.0]])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_rejected(name: str, bad: float) -> None:
    flow = make_flow(name, 2, num_layers=1)
    x = torch.zeros(4, 2)
    x[1, 0] = bad
    with pytest.raises(ValueError, match="non-finite"):
        flow.log_prob(x)
    with pytest.raises(ValueError, match="non-finite"):
        flow.transform.inverse(x)


def test_context_errors(name: str) -> None:
    flow = make_flow(name, 3, context_features=4, num_layers=1)
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"conditional: pass a context of shape \(\.\.\., 4\)"):
        flow.log_prob(x)
    with pytest.raises(ValueError, match=r"context must have shape \(\.\.\., 4\).*got \(2, 5\)"):
        flow.log_prob(x, torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"does not match the batch shape \(2, 5\): expected \(B, 4\)"):
        flow.log_prob(x, torch.randn(3, 4))
    with pytest.raises(ValueError, match="non-finite"):
        flow.log_prob(x, torch.full((2, 4), float("nan")))
    with pytest.raises(TypeError, match="floating-point"):
        flow.log_prob(x, torch.ones(2, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"conditional: pass a context"):
        flow.sample(3)
    with pytest.raises(ValueError, match=r"context for sampling must have shape \(B, 4\)"):
        flow.sample(3, torch.randn(2, 1, 4))
    with pytest.raises(ValueError, match=r"conditional: pass a context"):
        flow.sample_and_log_prob(3)
    # the transform on its own says the same
    with pytest.raises(ValueError, match=r"pass a context of shape \(\.\.\., 4\)"):
        flow.transform(x)


def test_unconditional_flow_rejects_a_context(name: str) -> None:
    flow = make_flow(name, 3, num_layers=1)
    with pytest.raises(ValueError, match="unconditional"):
        flow.log_prob(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="unconditional"):
        flow.sample(2, torch.randn(2, 4))


@pytest.mark.parametrize("temperature", [-0.1, float("nan"), float("inf")])
def test_bad_temperature(name: str, temperature: float) -> None:
    flow = make_flow(name, 2, num_layers=1)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        flow.sample(3, temperature=temperature)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        flow.sample_and_log_prob(3, temperature=temperature)


def test_negative_sample_count() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        make_flow("realnvp", 2).sample(-1)


def test_make_flow_names_the_valid_choices() -> None:
    with pytest.raises(BadInputError, match="unknown flow family 'nvp'; choose one of planar, radial, nice"):
        make_flow("nvp", 2)
    with pytest.raises(BadInputError, match=r"unknown option\(s\) depth for flow family 'realnvp'.*hidden"):
        make_flow("realnvp", 2, depth=3)
    with pytest.raises(BadInputError, match="num_layers must be a positive integer"):
        make_flow("maf", 2, num_layers=0)
    with pytest.raises(BadInputError, match="num_layers must be a positive integer"):
        make_flow("maf", 2, num_layers=2.5)
    with pytest.raises(BadInputError, match="mask must be one of 'alternating', 'half'"):
        make_flow("nice", 2, mask="random")
    with pytest.raises(BadInputError, match="scale_fn must be one of 'soft', 'tanh', 'none'"):
        make_flow("glow", 2, scale_fn="exp")
    with pytest.raises(BadInputError, match="clamp must be a positive number"):
        make_flow("iaf", 2, clamp=-1)
    with pytest.raises(BadInputError, match="features must be a positive integer"):
        make_flow("planar", 0)
    with pytest.raises(BadInputError, match="context_features must be an integer >= 0"):
        make_flow("planar", 2, context_features=-1)
    with pytest.raises(BadInputError, match="realnvp needs features >= 2"):
        make_flow("realnvp", 1)
    assert set(DISCRETE) < set(FAMILIES) and {"cnf", "ffjord"} < set(FAMILIES)
    # names are case-insensitive; 1-D flows work where the family allows them
    assert make_flow("MAF", 1).log_prob(torch.randn(5, 1)).shape == (5,)
    assert make_flow("realnvp", 1, context_features=2).sample(3, torch.randn(2, 2)).shape == (2, 3, 1)


def test_cnf_names_are_delegated_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("flowstudio.flows.cnf")

    def make_cnf_flow(features: int, context_features: int = 0, **options: object) -> str:
        if "bogus" in options:
            raise TypeError("make_cnf_flow() got an unexpected keyword argument 'bogus'")
        calls.append((features, context_features, options))
        return "a cnf flow"

    fake.make_cnf_flow = make_cnf_flow  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flowstudio.flows.cnf", fake)
    assert make_flow("ffjord", 3, 8, blocks=2) == "a cnf flow"
    assert make_flow("cnf", 2) == "a cnf flow"
    assert calls == [(3, 8, {"blocks": 2}), (2, 0, {})]
    with pytest.raises(BadInputError, match=r"bad option for flow family 'cnf'.*bogus"):
        make_flow("cnf", 2, bogus=1)


def test_batch_norm_option_must_be_a_flag() -> None:
    with pytest.raises(BadInputError, match="batch_norm must be True or False"):
        make_flow("realnvp", 2, batch_norm="yes")


def test_layer_constructors_check_their_arguments() -> None:
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
        AffineCoupling(3, alternating_mask(2))
    with pytest.raises(ValueError, match="leaves no feature to transform"):
        AffineCoupling(2, torch.tensor([True, True]))
    with pytest.raises(ValueError, match="needs features >= 2"):
        AffineCoupling(1, torch.tensor([False]))
    with pytest.raises(ValueError, match="not a permutation"):
        Permutation(torch.tensor([0, 0, 2]))
