"""Following a run through its folder, listing runs on disk, the control file and the child's
command line: real files in tmp_path, no Qt."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from flowstudio.errors import BadInputError
from flowstudio.training.control import Control
from flowstudio.training.events import Checkpointed, Finished, Progress, Recovered, Samples
from flowstudio.training.remote import ControlFileWatcher, send_command
from flowstudio.training.runlock import RunLock
from flowstudio.training.runs import Run
from flowstudio.training.snapshots import read_snapshot, write_snapshot
from flowstudio.workbench.follow import RunFollower
from flowstudio.workbench.launch import train_command
from flowstudio.workbench.runs import check_open_target, scan, summarize


def make_run(root: Path, kind: str = "points", iters: int = 50) -> Run:
    run = Run(root)
    run.create()
    run.write_config({"kind": kind, "model_name": "pointflow",
                      "task": {"model_name": "pointflow", "preset": "quick", "values": {"latent_dim": 8},
                               "data_path": "/data/chairs.npz"},
                      "options": {"iters": iters}})
    return run


def progress(step: int, loss: float) -> dict:
    return {"step": step, "time": 1000.0 + step, "losses": {"loss": loss}, "lr": 1e-3,
            "nfe_forward": 4.0, "nfe_backward": None, "steps_per_s": 2.0}


def test_follower_tails_the_log_and_turns_the_folder_into_events(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    follower = RunFollower(run.root)
    assert follower.poll() == []
    run.append_metrics(progress(1, 3.0))
    run.append_metrics(progress(2, 2.5))
    events = follower.poll()
    assert [type(e) for e in events] == [Progress, Progress]
    assert events[1].step == 2 and events[1].losses == {"loss": 2.5} and events[1].total_steps == 50
    assert events[1].eta_s == pytest.approx(24.0)  # (50 - 2) steps at 2 steps/s
    assert follower.poll() == []  # nothing new: nothing read again

    with open(run.metrics_path, "a") as log:  # a line still being written waits for its end
        log.write(json.dumps(progress(3, 2.0))[:20])
    assert follower.poll() == []
    with open(run.metrics_path, "a") as log:
        log.write(json.dumps(progress(3, 2.0))[20:] + "\n")
    assert [e.step for e in follower.poll()] == [3]

    run.append_metrics({"step": 3, "time": 1003.0, "validation": 1.5})
    run.append_metrics({"step": 4, "time": 1004.0, "event": "recovered", "reason": "non-finite loss",
                        "lr": 5e-4})
    run.best.write_bytes(b"checkpoint")
    write_snapshot(run.snapshot_path, Samples(step=4, kind="points", points=np.ones((2, 5, 3))))
    run.append_metrics({"step": 4, "time": 1005.0, "event": "finished", "reason": "stopped"})
    events = follower.poll()
    assert [type(e) for e in events] == [Recovered, Checkpointed, Samples, Finished]
    assert events[1].best and events[1].metric == 1.5
    assert events[2].points.shape == (2, 5, 3)
    assert events[3].reason == "stopped" and events[3].best_metric == 1.5 and follower.finished is events[3]


def test_a_log_rewritten_shorter_is_read_again_from_its_start(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    for step in range(1, 6):
        run.append_metrics(progress(step, 1.0))
    follower = RunFollower(run.root)
    assert len(follower.poll()) == 5
    run.truncate_metrics(after_step=2)  # what --resume does
    events = follower.poll()
    assert follower.rewound and [e.step for e in events] == [1, 2]


def test_a_resumed_run_is_followed_from_where_it_was(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    run.append_metrics(progress(1, 1.0))
    run.append_metrics({"step": 1, "time": 1001.0, "event": "finished", "reason": "iterations"})
    run.latest.write_bytes(b"checkpoint")
    follower = RunFollower(run.root)
    follower.skip_existing()
    assert follower.poll() == [] and follower.finished is None
    run.append_metrics(progress(2, 0.5))
    assert [e.step for e in follower.poll()] == [2]


def test_snapshots_round_trip_and_a_torn_one_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "samples.npz"
    write_snapshot(path, Samples(step=7, kind="molecules", smiles=("CCO", None), temperature=0.7))
    back = read_snapshot(path)
    assert back is not None and back.smiles == ("CCO", None) and back.step == 7 and back.temperature == 0.7
    path.write_bytes(path.read_bytes()[:30])
    assert read_snapshot(path) is None


def test_statuses_of_runs_on_disk(tmp_path: Path) -> None:
    now = time.time()
    finished = make_run(tmp_path / "finished")
    finished.append_metrics(progress(5, 1.0))
    finished.append_metrics({"step": 5, "time": now, "validation": 0.75})
    finished.append_metrics({"step": 5, "time": now, "event": "finished", "reason": "iterations"})
    failed = make_run(tmp_path / "failed")
    failed.append_metrics({"step": 2, "time": now, "event": "finished", "reason": "error", "error": "boom"})
    killed = make_run(tmp_path / "killed")
    killed.append_metrics(progress(9, 1.0))
    old = now - 3600
    os.utime(killed.metrics_path, (old, old))
    os.utime(killed.config_path, (old, old))
    running = make_run(tmp_path / "running")
    lock = RunLock(running.root)
    lock.acquire()
    try:
        rows = {row.path.name: row for row in scan([tmp_path])}
    finally:
        lock.release()
    assert {name: row.status for name, row in rows.items()} == {
        "finished": "finished", "failed": "failed", "killed": "stopped", "running": "running",
    }
    assert rows["finished"].steps == 5 and rows["finished"].best_validation == 0.75
    assert rows["finished"].data == "chairs.npz" and rows["failed"].error == "boom"
    assert summarize(running.root).status == "stopped"  # the lock is gone and its log says nothing
    assert next(iter(scan([tmp_path]))).path.name != "killed"  # newest first
    assert [row.path.name for row in scan([killed.root])] == ["killed"]  # a run folder itself


def test_open_targets_that_are_not_runs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file or folder"):
        check_open_target(tmp_path / "absent")
    broken = tmp_path / "broken"
    (broken / "checkpoints").mkdir(parents=True)
    with pytest.raises(BadInputError, match="not a run folder"):
        check_open_target(broken)
    shapes = tmp_path / "shapes"
    shapes.mkdir()
    assert check_open_target(shapes) == shapes  # a folder of shapes is data, not a run


def test_the_control_file_reaches_the_run_and_stale_commands_do_not(tmp_path: Path) -> None:
    send_command(tmp_path, "stop", now=100.0)  # an earlier session's
    control = Control()
    watcher = ControlFileWatcher(tmp_path, control, since=200.0)
    assert watcher.poll() is None and not control.stopped
    send_command(tmp_path, "pause", now=300.0)
    assert watcher.poll() == "pause" and control.paused
    assert watcher.poll() is None  # applied once
    send_command(tmp_path, "resume", now=301.0)
    assert watcher.poll() == "resume" and not control.paused
    send_command(tmp_path, "stop", now=302.0)
    assert watcher.poll() == "stop" and control.stopped


def test_the_child_command_carries_the_form_exactly() -> None:
    from flowstudio.cli.common import parse_sets
    from flowstudio.pointclouds.settings import BY_NAME, preset_values

    values = preset_values("pointflow", "quick")
    argv = train_command("points", Path("shapes.npz"), Path("runs/r"), "pointflow", "quick", values,
                         device="cpu", processes=2, python="python")
    assert argv[:5] == ["python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert argv[5:9] == ["-m", "flowstudio", "points", "train"]
    sets = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
    parsed = parse_sets(sets, BY_NAME)
    assert parsed == {k: v for k, v in values.items() if k != "device"}
    with pytest.raises(BadInputError):
        train_command("points", Path("x"), Path("y"), "pointflow", "quick", {}, processes=0)
