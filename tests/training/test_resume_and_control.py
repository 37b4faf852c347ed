"""Resume, stop, pause and the minutes budget."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from flowstudio.errors import BadInputError, CheckpointError
from flowstudio.training import (
    Control,
    Finished,
    Message,
    Progress,
    TrainOptions,
    load_checkpoint,
    read_metrics,
    train,
)
from tests.training.gmm_task import make_task


def _opts(**kw):
    base = {"iters": 40, "device": "cpu", "log_every": 5, "validate_every": 10, "samples_n": 0}
    return TrainOptions(**{**base, **kw})


def _state(run):
    return load_checkpoint(run / "checkpoints" / "latest.pt").model_state


def test_resume_reaches_the_same_state_as_an_uninterrupted_run(tmp_path):
    full = list(train(make_task(), tmp_path / "full", _opts(iters=40, seed=7)))
    assert full[-1].step == 40

    first = list(train(make_task(), tmp_path / "split", _opts(iters=20, seed=7)))
    assert first[-1].step == 20
    task = make_task()  # a fresh model: everything must come from the checkpoint
    resumed = list(train(task, tmp_path / "split", _opts(iters=40, seed=7, resume=True)))
    assert any(isinstance(e, Message) and "resumed from step 20" in e.text for e in resumed)
    assert [e.step for e in resumed if isinstance(e, Progress)] == [25, 30, 35, 40]
    assert task.steps_called[0] == 20 and resumed[-1].step == 40
    assert int(task.seen) == 40 * 64  # the task's extra state was restored

    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [[r["losses"] for r in read_metrics(tmp_path / d) if "losses" in r] for d in ("full", "split")]
    assert losses[0] == losses[1]


def test_resume_refuses_a_foreign_or_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        list(train(make_task(), tmp_path / "empty", _opts(resume=True)))
    assert not (tmp_path / "empty").exists()
    list(train(make_task(), tmp_path / "run", _opts(iters=5)))
    with pytest.raises(CheckpointError, match="'gmm2d' model, not 'other'"):
        list(train(make_task(model_name="other"), tmp_path / "run", _opts(resume=True)))
    other_kind = make_task()
    other_kind.kind = "molecules"
    with pytest.raises(CheckpointError, match="'points' checkpoint"):
        list(train(other_kind, tmp_path / "run", _opts(resume=True)))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        list(train(make_task(components=3), tmp_path / "run", _opts(resume=True)))
    with pytest.raises(BadInputError, match="already holds a run"):
        list(train(make_task(), tmp_path / "run", _opts()))
    for name in ("latest.pt", "best.pt"):  # with both damaged, nothing is left to resume from
        (tmp_path / "run" / "checkpoints" / name).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"no checkpoint to resume from: .*latest\.pt.*best\.pt"):
        list(train(make_task(), tmp_path / "run", _opts(resume=True)))


def test_stop_from_another_thread_takes_effect_within_one_step(tmp_path):
    control = Control()

    def stop_from_thread(step):
        if step == 5:
            thread = threading.Thread(target=control.stop)
            thread.start()
            thread.join()

    events = list(train(make_task(hook=stop_from_thread), tmp_path, _opts(iters=1000), control))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "stopped" and finished.step == 6
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == 6


def test_pause_blocks_without_spinning_and_resume_continues(tmp_path):
    control, paused_seen, events = Control(), threading.Event(), []

    def pause_from_thread(step):
        if step == 3:
            threading.Thread(target=control.pause).start()
            time.sleep(0.05)

    task = make_task(hook=pause_from_thread)

    def consume():
        for event in train(task, tmp_path, _opts(iters=30), control):
            events.append(event)
            if isinstance(event, Message) and event.text.startswith("paused"):
                paused_seen.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert paused_seen.wait(30)
    calls, cpu = len(task.steps_called), time.process_time()
    time.sleep(0.4)
    assert len(task.steps_called) == calls  # blocked
    assert time.process_time() - cpu < 0.2  # ... on an Event, not in a spin loop
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == calls  # saved on pause
    control.resume()
    worker.join(30)
    assert not worker.is_alive()
    assert events[-1].reason == "iterations" and events[-1].step == 30
    assert any(isinstance(e, Message) and e.text.startswith("resumed") for e in events)


def test_stop_releases_a_paused_run(tmp_path):
    control = Control()
    control.pause()  # paused before the first step
    gen = train(make_task(), tmp_path, _opts(iters=1000), control)
    for event in gen:
        if isinstance(event, Message) and event.text.startswith("paused"):
            threading.Timer(0.1, control.stop).start()
    assert event.reason == "stopped" and event.step == 0
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == 0


def test_minutes_budget_ends_the_run(tmp_path):
    start = time.monotonic()
    events = list(train(make_task(), tmp_path, _opts(iters=None, minutes=0.005)))
    assert events[-1].reason == "minutes" and events[-1].step > 0
    assert 0.3 <= time.monotonic() - start < 20
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == events[-1].step


def test_closing_the_generator_early_still_saves(tmp_path):
    gen = train(make_task(), tmp_path, _opts(iters=1000))
    for event in gen:
        if isinstance(event, Progress) and event.step == 15:
            break
    gen.close()
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt").step == 15


def test_resume_applies_a_changed_learning_rate(tmp_path):
    list(train(make_task(), tmp_path / "run", _opts(iters=10, lr=1e-2)))
    events = list(train(make_task(), tmp_path / "run", _opts(iters=15, lr=1e-3, resume=True)))
    assert any(isinstance(e, Message) and "learning rate 0.01 -> 0.001" in e.text for e in events)
    assert all(e.lr == pytest.approx(1e-3) for e in events if isinstance(e, Progress))
    same = list(train(make_task(), tmp_path / "run", _opts(iters=20, lr=1e-3, resume=True)))
    assert not any(isinstance(e, Message) and "learning rate" in e.text for e in same)
