"""Final stages run by the engine's loop, and the typed snapshot the engine reports."""

from __future__ import annotations

import torch
from torch import nn

from flowstudio.task_types import Snapshot, StageStep
from flowstudio.training import Message, Samples, TrainOptions, load_checkpoint, train
from flowstudio.training.stages import run_stage
from tests.training.gmm_task import GaussianMixtureTask


class _Fit:
    """A stage that fits one parameter to 3 by gradient steps, or meets a NaN loss."""

    title, lr, judged, on_stop = "fitting", 0.1, True, False

    def __init__(self, steps: int, nan_at: int | None = None) -> None:
        self.weight = nn.Parameter(torch.zeros(()))
        self.steps, self.nan_at, self.taken = steps, nan_at, 0

    def parameters(self) -> list[nn.Parameter]:
        return [self.weight]

    def step(self) -> StageStep | None:
        if self.taken == self.steps:
            return None
        self.taken += 1
        loss = (self.weight - 3.0) ** 2
        if self.taken == self.nan_at:
            loss = loss * float("nan")
        return StageStep(terms={"loss": loss}, line=f"step {self.taken}")

    def summary(self) -> str:
        return f"fitted to {float(self.weight.detach()):.2f}"

    def abandon(self) -> str:
        with torch.no_grad():
            self.weight.zero_()
        return "abandoned"


def test_a_stage_minimizes_its_loss_step_by_step_and_reports_each_line() -> None:
    stage = _Fit(steps=200)
    lines = list(run_stage(stage))
    assert lines[0] == "fitting" and lines[1] == "step 1" and len(lines) == 202
    fitted = float(stage.weight.detach())
    assert abs(fitted - 3.0) < 0.05 and lines[-1] == f"fitted to {fitted:.2f}"


def test_a_stage_stops_when_asked_and_a_non_finite_loss_abandons_it() -> None:
    asked = iter([False, False, True])
    stage = _Fit(steps=100)
    lines = list(run_stage(stage, lambda: next(asked)))
    assert stage.taken == 2 and lines[-1].startswith("fitted to")
    broken = _Fit(steps=100, nan_at=5)
    lines = list(run_stage(broken))
    assert lines[-1] == "abandoned" and broken.taken == 5 and float(broken.weight.detach()) == 0.0


class _ColdTask(GaussianMixtureTask):
    """Snapshots drawn at T = 0.6, and a final stage of two gradient steps on the means."""

    def snapshot(self, n: int) -> Snapshot:
        return Snapshot.of_points(super().snapshot(n).points, temperature=0.6)

    def final_stages(self) -> list[_Fit]:
        return [_Fit(steps=2)]


def test_samples_carry_the_snapshot_temperature_and_stages_run_inside_the_event_stream(tmp_path) -> None:
    torch.manual_seed(1234)
    options = TrainOptions(iters=12, device="cpu", log_every=4, validate_every=4, samples_n=2,
                           samples_every_s=0.0)
    events = list(train(_ColdTask(), tmp_path / "run", options))
    samples = [e for e in events if isinstance(e, Samples)]
    assert samples and all(e.temperature == 0.6 and e.kind == "points" for e in samples)
    assert samples[0].points is not None and samples[0].points.shape == (2, 8, 3)
    texts = [e.text for e in events if isinstance(e, Message)]
    assert texts[-4:-1] == ["fitting", "step 1", "step 2"] and texts[-1].startswith("fitted to")


class _Spoil:
    """A stage without gradients that moves the model's weights, so it validates worse."""

    title, lr, on_stop = "spoiling", 0.0, False

    def __init__(self, model: nn.Module, judged: bool) -> None:
        self.model, self.judged, self.done = model, judged, False

    def parameters(self) -> list[nn.Parameter]:
        return []

    def step(self) -> StageStep | None:
        if self.done:
            return None
        self.done = True
        with torch.no_grad():
            for p in self.model.parameters():
                p.add_(1.0)
        return StageStep(terms=None, line="spoiled")

    def summary(self) -> None:
        return None

    def abandon(self) -> str:
        return "abandoned"


class _SpoiledTask(GaussianMixtureTask):
    def __init__(self, judged: bool) -> None:
        super().__init__()
        self.judged = judged

    def final_stages(self) -> list[_Spoil]:
        return [_Spoil(self.model, self.judged)]


def test_a_judged_stage_that_validates_worse_is_not_kept_and_an_unjudged_one_is(tmp_path) -> None:
    options = TrainOptions(iters=12, device="cpu", log_every=4, validate_every=4, samples_n=0)
    for judged in (True, False):
        torch.manual_seed(0)
        task = _SpoiledTask(judged)
        run = tmp_path / str(judged)
        list(train(task, run, options))
        best = load_checkpoint(run / "checkpoints" / "best.pt").model_state
        spoiled = task.model.state_dict()  # the weights the stage left
        kept = all(torch.equal(best[k], v) for k, v in spoiled.items())
        assert kept is not judged
