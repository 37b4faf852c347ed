"""Reflow: the point CNF alone is refitted to straight paths of its own pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowstudio.flows.cnf import solver_override
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.pointclouds.reflow import Reflow
from flowstudio.pointclouds.task import PointCloudTask
from flowstudio.training.stages import run_stage

from .conftest import TINY_POINTFLOW, trained_a_little


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_reflow_straightens_the_point_cnf_alone(shapes: np.ndarray) -> None:
    torch.manual_seed(0)
    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "flow_matching"})
    trained_a_little(task, steps=100)
    model = task.model
    assert isinstance(model, PointFlow)
    stage = Reflow(model, task.dataset.train, seconds=60.0, lr=5e-3, max_steps=150, points=64, batch=8,
                   batch_points=64)

    def one_step_error() -> float:
        """How far one Euler step from each pair's noise lands from the teacher's solve."""
        with torch.no_grad(), solver_override(model.decoder, solver="euler", steps=1, step_size=None):
            return float((model.decode(stage.z, stage.noise) - stage.ends).pow(2).mean())

    encoder, prior, decoder = _flat(model.encoder), _flat(model.prior), _flat(model.decoder)
    model.train()
    lines = list(run_stage(stage))
    assert lines[0].startswith("reflow:") and "150 steps" in lines[-1]
    assert torch.equal(_flat(model.encoder), encoder) and torch.equal(_flat(model.prior), prior)
    assert not torch.equal(_flat(model.decoder), decoder)
    reflowed = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    # The pairs were the model's own RK4 solves before the stage changed it.
    model.decoder.load_state_dict(stage.before)
    before = one_step_error()
    with torch.no_grad(), solver_override(model.decoder, solver="rk4", steps=8, step_size=None):
        assert torch.allclose(model.decode(stage.z[:4], stage.noise[:4]), stage.ends[:4], atol=1e-5)
    model.decoder.load_state_dict(reflowed)
    assert one_step_error() < 0.7 * before


def test_reflow_refuses_a_likelihood_model(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "pointflow", "quick", TINY_POINTFLOW)
    with pytest.raises(ValueError, match="flow-matching"):
        Reflow(task.model, task.dataset.train, seconds=1.0, lr=1e-3)
