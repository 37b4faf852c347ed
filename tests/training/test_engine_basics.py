"""The thin path: a run trains for its budget and leaves a complete RUN folder."""

from __future__ import annotations

import math

import torch

from flowstudio.task_types import StageStep
from flowstudio.training import (
    Checkpointed,
    Finished,
    Message,
    Progress,
    Samples,
    TrainOptions,
    load_checkpoint,
    read_config,
    read_metrics,
    train,
)
from tests.training.gmm_task import GaussianMixtureTask, make_task


def _opts(**kw):
    base = {"iters": 60, "device": "cpu", "log_every": 10, "validate_every": 30, "samples_n": 0}
    return TrainOptions(**{**base, **kw})


def test_iters_budget_fills_the_run_folder(tmp_path):
    events = list(train(make_task(), tmp_path / "run", _opts()))
    run = tmp_path / "run"

    assert isinstance(events[0], Message) and "CPU" in events[0].text
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "iterations" and finished.step == 60
    assert finished.extra["recoveries"] == 0 and finished.extra["elapsed_s"] > 0
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == [10, 20, 30, 40, 50, 60]
    assert set(progress[0].losses) == {"loss", "nll", "prior"}
    assert all(isinstance(v, float) for v in progress[0].losses.values())
    assert progress[-1].losses["loss"] < progress[0].losses["loss"]
    assert progress[0].nfe_forward == 1.0 and progress[0].nfe_backward is None
    assert progress[0].total_steps == 60 and progress[-1].eta_s == 0.0
    assert [e.best for e in events if isinstance(e, Checkpointed)][-1] is False  # latest last

    config = read_config(run)
    assert config["kind"] == "points" and config["model_name"] == "gmm2d"
    assert config["task"] == {"components": 4, "batch": 64} and config["options"]["iters"] == 60
    assert {"torch", "flowstudio", "python"} <= set(config["versions"])

    records = read_metrics(run)
    logged = [r for r in records if "losses" in r]
    assert [r["step"] for r in logged] == [10, 20, 30, 40, 50, 60]
    assert {"time", "lr", "nfe_forward"} <= set(logged[0])
    assert [r["step"] for r in records if "validation" in r] == [30, 60]

    for name in ("latest.pt", "best.pt"):  # tensors and plain data only
        raw = torch.load(run / "checkpoints" / name, weights_only=True)
        assert raw["kind"] == "points"
    latest = load_checkpoint(run / "checkpoints" / "latest.pt", expect_kind="points")
    assert latest.step == 60 and latest.optimizer_state is not None
    assert int(latest.extra_state["seen"]) == 60 * 64
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best.metric is not None and math.isfinite(best.metric) and best.metric == finished.best_metric
    assert not list((run / "checkpoints").glob("*.tmp"))


def test_same_seed_same_losses_and_other_seed_differs(tmp_path):
    def losses(name, seed):
        list(train(make_task(), tmp_path / name, _opts(iters=30, seed=seed)))
        return [r["losses"]["loss"] for r in read_metrics(tmp_path / name) if "losses" in r]

    first = losses("a", 3)
    assert first == losses("b", 3)
    assert first != losses("c", 4)


def test_samples_are_numpy_copies_and_do_not_change_training(tmp_path):
    events = list(train(make_task(), tmp_path / "a", _opts(iters=20, samples_n=2, samples_every_s=0)))
    samples = [e for e in events if isinstance(e, Samples)]
    assert len(samples) == 20
    assert samples[0].kind == "points" and samples[0].points.shape == (2, 8, 3)
    assert samples[0].points.dtype.name == "float32"
    list(train(make_task(), tmp_path / "b", _opts(iters=20)))
    a = [r["losses"] for r in read_metrics(tmp_path / "a") if "losses" in r]
    b = [r["losses"] for r in read_metrics(tmp_path / "b") if "losses" in r]
    assert a == b  # snapshots run under their own RNG


def test_the_last_steps_are_reported_when_the_budget_is_not_a_multiple(tmp_path):
    events = list(train(make_task(), tmp_path, _opts(iters=23)))
    assert [e.step for e in events if isinstance(e, Progress)] == [10, 20, 23]
    assert [r["step"] for r in read_metrics(tmp_path) if "losses" in r] == [10, 20, 23]


class _WorseningTask(GaussianMixtureTask):
    """Validation gets worse at every call, so the first one is the best; its final stage
    records the weights it starts from and then moves them."""

    def __init__(self) -> None:
        torch.manual_seed(1234)
        super().__init__()
        self.calls = 0
        self.stage_saw: dict[str, torch.Tensor] | None = None

    def validation_metric(self) -> float:
        self.calls += 1
        return float(self.calls)

    def final_stages(self):
        return [_MovingStage(self)]


class _MovingStage:
    """A final stage of one step without gradients: record the weights, move them."""

    title, lr, judged, on_stop = None, 0.0, True, False

    def __init__(self, task: _WorseningTask) -> None:
        self.task, self.done = task, False

    def parameters(self):
        return []

    def step(self):
        if self.done:
            return None
        self.done = True
        self.task.stage_saw = {k: v.clone() for k, v in self.task.model.state_dict().items()}
        with torch.no_grad():
            self.task.model.means.add_(1.0)
        return StageStep(line="stage ran")

    def summary(self):
        return None

    def abandon(self):
        return "abandoned"


def test_the_final_stage_runs_on_the_best_weights_and_latest_keeps_the_trained_state(tmp_path):
    task = _WorseningTask()
    events = list(train(task, tmp_path / "run", _opts(iters=40, validate_every=10)))
    run = tmp_path / "run"
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert best.step == 10 and latest.step == 40
    assert any(isinstance(e, Message) and e.text == "stage ran" for e in events)
    assert task.stage_saw is not None
    for name, value in best.model_state.items():  # the stage started from best.pt ...
        assert torch.equal(task.stage_saw[name], value)
    # ... scored worse (this task's validation always does), so best.pt was kept; latest.pt
    # holds the weights of step 40, not the stage's
    assert not torch.equal(latest.model_state["means"], best.model_state["means"])
    assert torch.equal(task.model.means.detach(), best.model_state["means"] + 1.0)
    validations = [m["step"] for m in read_metrics(run) if "validation" in m]
    assert validations == [10, 20, 30, 40, 10]
    assert isinstance(events[-1], Finished) and events[-1].step == 40


def _stopped_at_step_20(task, run):
    """Train ``task`` with a budget far away and stop it once step 20 is reported."""
    from flowstudio.training import Control

    control = Control()
    events = []
    for event in train(task, run, _opts(iters=1000, validate_every=10), control):
        events.append(event)
        if isinstance(event, Progress) and event.step >= 20:
            control.stop()
    return events


def test_no_final_stage_when_the_run_is_stopped(tmp_path):
    task = _WorseningTask()
    events = _stopped_at_step_20(task, tmp_path / "run")
    assert events[-1].reason == "stopped" and task.stage_saw is None


class _CalibratingTask(_WorseningTask):
    """Two final stages: one that must run after a Stop too, one that need not."""

    def final_stages(self):
        needed, optional = _MovingStage(self), _Fit()
        needed.on_stop = True
        return [needed, optional]


class _Fit:
    title, lr, judged, on_stop = "optional stage", 0.1, True, False

    def parameters(self):
        return []

    def step(self):
        raise AssertionError("a stage without on_stop ran after a Stop")

    def summary(self):
        return None

    def abandon(self):
        return "abandoned"


def test_a_stopped_run_runs_only_the_stages_marked_on_stop_to_their_end(tmp_path):
    task = _CalibratingTask()
    events = _stopped_at_step_20(task, tmp_path / "run")
    assert events[-1].reason == "stopped" and task.stage_saw is not None
    assert any(isinstance(e, Message) and e.text == "stage ran" for e in events)
