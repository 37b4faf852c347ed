"""How events read in the window: progress text, log lines and banners."""

from __future__ import annotations

from pathlib import Path

from flowstudio.training.events import Checkpointed, Finished, Message, Progress, Recovered, Samples
from flowstudio.workbench.event_text import (
    PROGRESS_SCALE,
    event_notices,
    failure_notices,
    format_rate,
    progress_text,
)


def _progress(**kw) -> Progress:
    base = dict(
        step=250,
        total_steps=1000,
        elapsed_s=65.0,
        eta_s=3725.0,
        steps_per_s=4.0,
        losses={"loss": 1.23456},
        lr=1e-3,
    )
    return Progress(**{**base, **kw})


def test_rates() -> None:
    assert format_rate(12.34) == "12.3 it/s" and format_rate(0.25) == "4.0 s/it"
    assert format_rate(0) == "0.0 it/s"


def test_progress_of_a_step_budget() -> None:
    text = progress_text(_progress())
    assert text.value == PROGRESS_SCALE // 4 and text.format == "step 250 / 1,000"
    assert text.detail == "4.0 it/s · elapsed 1:05 · ETA 1:02:05 · loss 1.235"  # as the CLI writes times
    assert progress_text(_progress(), paused=True).format == "paused · step 250 / 1,000"


def test_progress_of_a_time_budget_and_of_none() -> None:
    timed = progress_text(_progress(total_steps=None, elapsed_s=30.0, eta_s=90.0, losses={"nll": 2.0}))
    assert timed.value == PROGRESS_SCALE // 4 and timed.format == "step 250"
    assert "loss" not in timed.detail
    open_ended = progress_text(_progress(total_steps=None, eta_s=None))
    assert open_ended.value is None and "ETA ?" in open_ended.detail


def test_checkpoints_recoveries_and_messages() -> None:
    (best,) = event_notices(Checkpointed(7, Path("/r/checkpoints/best.pt"), best=True, metric=0.123456))
    assert best.log == "step 7: best checkpoint best.pt (validation 0.1235)" and best.banner is None
    (latest,) = event_notices(Checkpointed(8, Path("/r/checkpoints/latest.pt"), best=False))
    assert latest.log == "step 8: checkpoint latest.pt"
    (recovered,) = event_notices(Recovered(9, "non-finite loss", 5e-4))
    assert recovered.level == "warning" and "learning rate now 0.0005" in recovered.log
    (error,) = event_notices(Message("out of memory\ndetails", "error"))
    assert error.level == "error" and error.banner == "out of memory" and error.banner_seconds is None
    (info,) = event_notices(Message("cpu chosen"))
    assert info.banner is None
    assert event_notices(_progress()) == [] and event_notices(Samples(1, "points")) == []


def test_the_end_of_a_run() -> None:
    log, banner = event_notices(Finished(40, "iterations", Path("/r")))
    assert log.log == "run reached its step budget at step 40 (/r)" and log.level == "info"
    assert banner.banner == "Training reached its step budget at step 40; the model is ready to explore."
    assert banner.banner_level == "info" and banner.banner_seconds == 6.0 and banner.log == banner.banner
    log, banner = event_notices(Finished(3, "error", Path("/r"), error="loss is NaN\ntrace"))
    assert log.level == "error" and "failed at step 3" in log.log
    assert banner.log is None and banner.banner == "Training failed at step 3: loss is NaN"
    assert banner.banner_level == "error"
    (failed,) = failure_notices("RuntimeError: boom\nTraceback ...")
    assert failed.level == "error" and failed.banner == "Training failed: RuntimeError: boom"
    assert "Traceback" in failed.log
