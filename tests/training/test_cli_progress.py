"""``run_training``: the CLI's progress display and exit codes."""

from __future__ import annotations

import io
import os
import signal

from flowstudio.cli.progress import format_duration, run_training
from flowstudio.training import TrainOptions, load_checkpoint
from tests.training.gmm_task import make_task


def _opts(**kw):
    base = {"iters": 30, "device": "cpu", "log_every": 5, "validate_every": 10, "samples_n": 0}
    return TrainOptions(**{**base, **kw})


def test_success_prints_progress_and_exits_0(tmp_path):
    out = io.StringIO()
    assert run_training(make_task(nan_at=(12,)), tmp_path, _opts(), stream=out) == 0
    text = out.getvalue()
    assert "training gmm2d on CPU" in text
    assert "step 30/30" in text and "loss " in text and "nfe 1/-" in text and "ETA 0:00" in text
    assert "warning: step 12: non-finite loss" in text and "learning rate lowered to 0.0005" in text
    assert "finished (iterations) at step 30" in text


def test_live_bar_renders(tmp_path):
    out = io.StringIO()
    assert run_training(make_task(), tmp_path, _opts(), stream=out, live=True) == 0
    assert "30/30" in out.getvalue() and "it/s" in out.getvalue()


def test_bad_input_exits_2_with_one_line(tmp_path):
    out = io.StringIO()
    assert run_training(make_task(), tmp_path, _opts(resume=True), stream=out) == 2
    assert out.getvalue().count("\n") == 1  # one line: the reason
    assert out.getvalue().startswith("flowstudio: error: ") and "no checkpoint to resume" in out.getvalue()


def test_task_error_exits_1(tmp_path):
    out = io.StringIO()
    assert run_training(make_task(raise_at=4), tmp_path, _opts(), stream=out) == 1
    assert "RuntimeError: boom at step 4" in out.getvalue()


def test_ctrl_c_stops_with_a_checkpoint(tmp_path):
    def interrupt(step):
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    handler = signal.getsignal(signal.SIGINT)
    out = io.StringIO()
    assert run_training(make_task(hook=interrupt), tmp_path, _opts(iters=1000), stream=out) == 130
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert "stopping after this step" in out.getvalue() and "finished (stopped)" in out.getvalue()
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == 6


def test_format_duration():
    assert format_duration(None) == "?" and format_duration(65) == "1:05"
    assert format_duration(3725) == "1:02:05"
