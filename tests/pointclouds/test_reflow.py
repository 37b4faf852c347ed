"""Reflow: the point CNF alone is refitted to straight paths of its own pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowstudio.flows.cnf_control import solver_override
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


def test_a_run_with_reflow_s_reflows_then_refines_and_keeps_the_result(shapes: np.ndarray, tmp_path) -> None:
    from flowstudio.training import Message, TrainOptions, load_checkpoint, train

    values = {**TINY_POINTFLOW, "objective": "flow_matching", "reflow_s": 0.5, "prior_refine_s": 0.2}
    task = PointCloudTask(shapes, "pointflow", "quick", values)
    options = TrainOptions(iters=4, device="cpu", log_every=2, validate_every=4, samples_n=0)
    events = list(train(task, tmp_path / "run", options))
    texts = [e.text for e in events if isinstance(e, Message)]
    reflowed = next(i for i, t in enumerate(texts) if t.startswith("reflow:") and "steps, matching" in t)
    refined = next(i for i, t in enumerate(texts) if "latent prior refined" in t)
    assert reflowed < refined
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt").model_state
    assert all(torch.equal(best[k], v) for k, v in task.model.state_dict().items())  # kept as it scores


def test_reflow_s_with_the_likelihood_objective_is_bad_input(shapes: np.ndarray) -> None:
    from flowstudio.errors import BadInputError

    with pytest.raises(BadInputError, match="reflow_s needs objective=flow_matching"):
        PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "reflow_s": 10.0})
