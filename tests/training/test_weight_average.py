"""The weight average (``weight_average``): its definition, what the run uses, and resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from flowstudio.errors import BadInputError
from flowstudio.training import Finished, TrainOptions, load_checkpoint, train
from flowstudio.training.averaging import TRAINING_WEIGHTS
from flowstudio.weight_average import WeightAverage
from tests.training.gmm_task import make_task


def _opts(**kw):
    base = {"iters": 40, "device": "cpu", "log_every": 5, "validate_every": 10, "samples_n": 0,
            "weight_average": 0.9}
    return TrainOptions(**{**base, **kw})


def test_the_average_follows_its_definition_over_float_entries_only():
    model = nn.BatchNorm1d(3)  # float weights and running stats, an integer batch counter
    average = WeightAverage(model, decay=0.5)
    expected = model.weight.detach().clone()
    for t in range(1, 6):
        with torch.no_grad():
            model.weight.add_(float(t))
        model.num_batches_tracked += 1
        average.update(model)
        beta = min(0.5, (1 + t) / (10 + t))
        expected = beta * expected + (1 - beta) * model.weight.detach()
    state = average.state_dict(model)
    assert torch.allclose(state["weight"], expected)
    assert not torch.equal(state["weight"], model.weight.detach())
    assert int(state["num_batches_tracked"]) == 5  # copied, not averaged
    with average.applied(model):
        assert torch.allclose(model.weight, expected)
    assert torch.equal(model.weight.detach(), torch.full((3,), 16.0))  # its own weights back


def test_the_run_uses_the_average_and_keeps_the_raw_weights_for_resume(tmp_path):
    events = list(train(make_task(), tmp_path, _opts()))
    assert isinstance(events[-1], Finished) and events[-1].step == 40
    latest = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    raw = latest.engine_state[TRAINING_WEIGHTS]
    assert latest.engine_state["average_updates"] == 40
    assert not torch.allclose(latest.model_state["means"], raw["means"])  # the model is the average
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert TRAINING_WEIGHTS not in best.engine_state
    # validation scored the averaged weights that best.pt holds
    task = make_task()
    task.model.load_state_dict(best.model_state)
    assert task.validation_metric() == pytest.approx(best.metric, rel=1e-6)


def test_a_resumed_averaging_run_reaches_the_uninterrupted_runs_state(tmp_path):
    list(train(make_task(), tmp_path / "full", _opts(iters=40, seed=3)))
    list(train(make_task(), tmp_path / "split", _opts(iters=20, seed=3)))
    list(train(make_task(), tmp_path / "split", _opts(iters=40, seed=3, resume=True)))
    a, b = (load_checkpoint(tmp_path / d / "checkpoints" / "latest.pt") for d in ("full", "split"))
    for name in a.model_state:
        assert torch.allclose(a.model_state[name], b.model_state[name], atol=1e-6)
        assert torch.allclose(a.engine_state[TRAINING_WEIGHTS][name], b.engine_state[TRAINING_WEIGHTS][name],
                              atol=1e-6)


def test_weight_average_outside_zero_to_one_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="weight_average"):
        list(train(make_task(), tmp_path, _opts(weight_average=1.0)))
