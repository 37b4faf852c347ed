"""NaN rollback, giving up cleanly, errors in task code, and bad options or devices."""

from __future__ import annotations

import math

import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.training import (
    Checkpointed,
    Finished,
    Message,
    Progress,
    Recovered,
    TrainOptions,
    load_checkpoint,
    read_metrics,
    select_device,
    train,
)
from tests.training.gmm_task import make_task


def _opts(**kw):
    base = {"iters": 40, "device": "cpu", "log_every": 5, "validate_every": 5, "samples_n": 0}
    return TrainOptions(**{**base, **kw})


def _finite(state):
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize(("fault", "reason"), [({"nan_at": (15,)}, "non-finite loss"),
                                               ({"grad_nan_at": (15,)}, "non-finite gradients")])
def test_a_transient_nan_is_rolled_back_with_a_lower_lr(tmp_path, fault, reason):
    task = make_task(**fault)
    events = list(train(task, tmp_path, _opts(lr=1e-3), None))
    recovered = [e for e in events if isinstance(e, Recovered)]
    assert len(recovered) == 1 and recovered[0].step == 15 and recovered[0].new_lr == pytest.approx(5e-4)
    assert reason in recovered[0].reason
    assert task.steps_called[10:17] == [10, 11, 12, 13, 14, 15, 10]  # back to the last good state
    assert events[-1].reason == "iterations" and events[-1].step == 40
    assert events[-1].extra["recoveries"] == 1
    assert [p.lr for p in events if isinstance(p, Progress)][-1] == pytest.approx(5e-4)
    assert all(math.isfinite(v) for p in events if isinstance(p, Progress) for v in p.losses.values())
    logged = [r for r in read_metrics(tmp_path) if r.get("event") == "recovered"]
    assert logged == [{**logged[0], "step": 15, "lr": pytest.approx(5e-4), "rolled_back_to": 10}]
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert _finite(ckpt.model_state) and ckpt.optimizer_state["param_groups"][0]["lr"] == pytest.approx(5e-4)


def test_repeated_nan_gives_up_cleanly_keeping_the_good_weights(tmp_path):
    events = list(train(make_task(nan_from=12), tmp_path, _opts(max_recoveries=2)))
    assert [type(e) for e in events].count(Recovered) == 2
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "error" and "diverged" in finished.error
    assert finished.step == 10
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert ckpt.step == 10 and _finite(ckpt.model_state)
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt").step == 10


def test_an_exception_in_task_code_ends_the_run_after_a_checkpoint(tmp_path):
    events = list(train(make_task(raise_at=7), tmp_path, _opts()))
    finished = events[-1]
    assert finished.reason == "error" and finished.error == "RuntimeError: boom at step 7"
    assert any(isinstance(e, Message) and e.level == "error" and "Traceback" in e.text for e in events)
    assert any(isinstance(e, Checkpointed) and e.step == 7 for e in events)
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == 7


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="CUDA is not available"):
        select_device("cuda")
    with pytest.raises(BadInputError, match="CUDA is not available"):
        list(train(make_task(), tmp_path, _opts(device="cuda")))
    assert not (tmp_path / "checkpoints").exists()


def test_device_names():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(BadInputError, match="not one of"):
        select_device("tpu9")


@pytest.mark.parametrize("bad", [{"iters": -1}, {"minutes": 0}, {"lr": 0}, {"lr": float("nan")},
                                 {"grad_clip": -1.0}, {"log_every": 0}, {"lr_decay_on_nan": 1.5},
                                 {"validate_every": 0}, {"seed": -3}])
def test_bad_options_are_named(tmp_path, bad):
    name = next(iter(bad))
    with pytest.raises(BadInputError, match=name):
        list(train(make_task(), tmp_path, _opts(**bad)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_and_resume(tmp_path):
    options = _opts(iters=20, device="cuda", samples_n=2, samples_every_s=0)
    events = list(train(make_task(), tmp_path, options))
    assert events[-1].reason == "iterations" and "CUDA" in events[0].text
    events = list(train(make_task(), tmp_path, _opts(iters=30, device="cuda", resume=True)))
    assert events[-1].step == 30
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").model_state["means"].device.type == "cpu"
