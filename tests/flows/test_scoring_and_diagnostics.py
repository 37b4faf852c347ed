"""AUROC and typicality of likelihood scores; invertibility diagnostics of healthy and broken flows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows.cnf import CNF
from flowstudio.flows.core import Compose
from flowstudio.flows.diagnostics import (
    flags,
    forward_value,
    lipschitz_estimate,
    log_det_errors,
    round_trip_errors,
)
from flowstudio.flows.nets import alternating_mask
from flowstudio.flows.realnvp import AffineCoupling
from flowstudio.flows.scoring import auroc, auroc_table, typicality


def test_auroc_is_the_share_of_pairs_the_score_orders_right() -> None:
    rng = np.random.default_rng(0)
    inside, outside = rng.normal(1.0, 1.0, 40).round(1), rng.normal(0.0, 1.0, 30).round(1)
    pairs = [(a > b) + 0.5 * (a == b) for a, b in itertools.product(inside, outside)]
    assert auroc(inside, outside) == pytest.approx(np.mean(pairs))
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 0.0
    # a score the model could not compute (-inf, NaN) ranks as the least in-distribution
    assert auroc(np.array([1.0]), np.array([np.nan])) == 1.0
    with pytest.raises(BadInputError):
        auroc(np.array([]), np.array([1.0]))


def test_auroc_table_names_every_defined_score() -> None:
    table = auroc_table(
        {"ll": np.array([3.0, 4.0]), "latent": np.array([np.nan, np.nan])},
        {"ll": np.array([1.0, 5.0]), "latent": np.array([np.nan, np.nan])},
    )
    assert table == {"auroc_ll": 0.5}


def test_typicality_penalizes_too_likely_as_much_as_too_unlikely() -> None:
    reference = np.array([-2.0, -1.0, 0.0])  # mean -1, std 1
    scores = typicality(np.array([-1.0, 1.0, -3.0, -1.5]), reference)
    assert scores[0] == 0.0
    assert scores[1] == pytest.approx(-2.0) and scores[2] == pytest.approx(-2.0)
    assert scores[3] == pytest.approx(-0.5)


def _couplings(weight_scale: float) -> Compose:
    torch.manual_seed(0)
    layers = [AffineCoupling(3, alternating_mask(3, k % 2), hidden=16, scale_fn="none") for k in range(4)]
    with torch.no_grad():
        for layer in layers:
            for p in layer.parameters():
                p.normal_(0.0, weight_scale)
    return Compose(*layers)


def _section(transform, x: torch.Tensor) -> dict:
    from flowstudio.flows.diagnostics import error_summary

    labels = [{"row": i} for i in range(len(x))]
    return {
        "round_trip_data": error_summary(round_trip_errors(transform, x), labels),
        "log_det": error_summary(log_det_errors(transform, x[:3]), labels[:3]),
        "lipschitz": {
            "forward": lipschitz_estimate(forward_value(transform), x),
            "inverse": lipschitz_estimate(transform.inverse_value, torch.randn(x.shape)),
        },
    }


def test_a_healthy_coupling_flow_is_not_flagged() -> None:
    x = torch.randn(64, 3)
    section = _section(_couplings(0.05), x)
    assert section["round_trip_data"]["max"] < 1e-5
    assert section["log_det"]["max"] < 1e-4
    assert flags("flow", section) == []


def test_an_affine_coupling_whose_scale_explodes_is_flagged() -> None:
    x = torch.randn(64, 3)
    found = flags("flow", _section(_couplings(3.0), x))
    assert found, "exploding log-scales must be flagged"
    assert any("Lipschitz" in f or "round trip" in f or "finite" in f for f in found)


def test_a_cnf_with_too_few_euler_steps_is_flagged_and_fine_steps_are_not() -> None:
    torch.manual_seed(0)
    cnf = CNF(2, hidden=(32,), solver="euler", steps=1, end_time=1.0)
    with torch.no_grad():
        for p in cnf.net.parameters():
            p.mul_(4.0)  # a strongly curved field
    cnf.eval()
    x = torch.randn(32, 2)
    coarse = flags("cnf", _section(cnf, x))
    assert any("round trip" in f for f in coarse)
    cnf.solver, cnf.steps = "rk4", 64
    assert flags("cnf", _section(cnf, x)) == []
