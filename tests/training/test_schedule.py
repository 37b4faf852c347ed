"""Learning-rate schedules over the run's budget: the closed form, a real run, rollbacks, resume."""

from __future__ import annotations

import math

import pytest

from flowstudio.errors import BadInputError
from flowstudio.training import Progress, Recovered, TrainOptions, load_checkpoint, read_metrics, train
from flowstudio.training.schedule import lr_factor
from tests.training.gmm_task import make_task


def _opts(**kw):
    base = {"iters": 40, "device": "cpu", "log_every": 1, "validate_every": 20, "samples_n": 0,
            "lr": 1e-2, "lr_schedule": "cosine", "lr_final_factor": 0.1}
    return TrainOptions(**{**base, **kw})


def _cosine(p: float, r: float) -> float:
    return r + (1 - r) * (1 + math.cos(math.pi * p)) / 2


def test_the_cosine_factor_runs_from_one_to_the_final_factor():
    assert lr_factor("cosine", 0.0, 0.1) == pytest.approx(1.0)
    assert lr_factor("cosine", 0.5, 0.1) == pytest.approx(0.55)
    assert lr_factor("cosine", 1.0, 0.1) == pytest.approx(0.1)
    assert lr_factor("cosine", 1.7, 0.1) == pytest.approx(0.1)  # past the budget: the last rate
    assert lr_factor("constant", 0.5, 0.1) == 1.0
    assert lr_factor("cosine", None, 0.1) == 1.0  # no budget, no schedule
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        lr_factor("step", 0.5, 0.1)


def test_a_run_follows_the_schedule_over_its_steps(tmp_path):
    events = list(train(make_task(), tmp_path, _opts()))
    progress = [e for e in events if isinstance(e, Progress)]
    # Progress at step s reports the rate step s-1 used (the fraction (s-1)/40 of the budget).
    expected = [1e-2 * _cosine((p.step - 1) / 40, 0.1) for p in progress]
    assert [p.lr for p in progress] == pytest.approx(expected)
    assert progress[-1].lr < progress[0].lr / 5
    logged = [r["lr"] for r in read_metrics(tmp_path) if "lr" in r]
    assert logged == sorted(logged, reverse=True)
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert ckpt.optimizer_state["param_groups"][0]["base_lr"] == pytest.approx(1e-2)


def test_a_rollback_lowers_the_base_rate_the_schedule_scales(tmp_path):
    events = list(train(make_task(nan_at=(15,)), tmp_path, _opts(lr_decay_on_nan=0.5)))
    assert sum(isinstance(e, Recovered) for e in events) == 1
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.lr == pytest.approx(0.5e-2 * _cosine(39 / 40, 0.1))


def test_a_resumed_run_continues_its_step_schedule_and_takes_a_new_rate(tmp_path):
    list(train(make_task(), tmp_path, _opts(iters=20)))
    events = list(train(make_task(), tmp_path, _opts(iters=40, resume=True)))
    first = next(e for e in events if isinstance(e, Progress))
    assert first.step == 21 and first.lr == pytest.approx(1e-2 * _cosine(20 / 40, 0.1))
    events = list(train(make_task(), tmp_path, _opts(iters=60, lr=2e-2, resume=True)))
    first = next(e for e in events if isinstance(e, Progress))
    assert first.lr == pytest.approx(2e-2 * _cosine(40 / 60, 0.1))


def test_a_schedule_without_a_budget_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="lr_schedule"):
        list(train(make_task(), tmp_path, _opts(iters=None)))
    with pytest.raises(BadInputError, match="lr_final_factor"):
        TrainOptions(lr_final_factor=1.5).validate()
