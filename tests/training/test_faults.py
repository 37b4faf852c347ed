"""Training when the machine misbehaves: kill -9, a full disk, a read-only run folder, a
second trainer on the same folder, an interrupted checkpoint write (issue 18)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import flowstudio
from flowstudio.errors import BadInputError
from flowstudio.training import Checkpointed, Message, TrainOptions, load_checkpoint, read_metrics, train
from flowstudio.training import checkpoint as checkpoint_module
from tests.training.gmm_task import make_task

REPO = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join([str(Path(flowstudio.__file__).resolve().parents[1]), str(REPO)])
"""Subprocesses import the same ``flowstudio`` as this test and the tests' own helpers."""


def _opts(**kw):
    base = {"iters": 40, "device": "cpu", "log_every": 5, "validate_every": 10, "samples_n": 0,
            "checkpoint_every": 10, "checkpoint_every_s": 3600.0}
    return TrainOptions(**{**base, **kw})


def _messages(events):
    return [e.text for e in events if isinstance(e, Message)]


def _strays(run: Path) -> list[Path]:
    return sorted(run.rglob("*.tmp"))


def test_latest_is_written_every_checkpoint_every_steps(tmp_path):
    options = _opts(iters=30, checkpoint_every=7, validate_every=100)
    events = list(train(make_task(), tmp_path / "run", options))
    latest = [e.step for e in events if isinstance(e, Checkpointed) and not e.best]
    assert latest == [7, 14, 21, 28, 30]


def test_kill_9_then_resume_loses_at_most_one_checkpoint_interval(tmp_path):
    run = tmp_path / "run"
    script = (
        "from flowstudio.training import TrainOptions, train\n"
        "from tests.training.gmm_task import make_task\n"
        "opts = TrainOptions(iters=None, device='cpu', log_every=5, validate_every=1000, samples_n=0,\n"
        "                    checkpoint_every=20, checkpoint_every_s=3600.0)\n"
        f"for _ in train(make_task(), {str(run)!r}, opts):\n"
        "    pass\n"
    )
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 120
        while max([0, *(int(r.get("step", 0)) for r in read_metrics(run))]) < 100:
            assert proc.poll() is None and time.monotonic() < deadline, "the trainer did not get going"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    trained = max(int(r["step"]) for r in read_metrics(run))  # a lower bound of the steps trained
    events = list(train(make_task(), run, _opts(iters=trained + 5, resume=True)))
    resumed = next(int(t.split()[3]) for t in _messages(events) if t.startswith("resumed from step"))
    assert trained - resumed <= 20  # one checkpoint interval
    assert events[-1].step == trained + 5 and not _strays(run)


def test_resume_falls_back_to_best_when_killed_before_the_first_latest(tmp_path):
    run = tmp_path / "run"
    list(train(make_task(), run, _opts(iters=20, validate_every=10)))
    (run / "checkpoints" / "latest.pt").unlink()  # killed before the first latest.pt was written
    events = list(train(make_task(), run, _opts(iters=25, resume=True)))
    text = " ".join(_messages(events))
    assert "resumed from step 20" in text and "best.pt" in text and "AdamW's moments start afresh" in text
    assert events[-1].step == 25


def test_resume_skips_a_damaged_latest_and_removes_stray_temp_files(tmp_path):
    run = tmp_path / "run"
    list(train(make_task(), run, _opts(iters=20, validate_every=10)))
    (run / "checkpoints" / "latest.pt").write_bytes(b"\x00" * 10)
    stray = run / "checkpoints" / ".latest.pt.k3j2x.tmp"  # what a kill -9 mid-write leaves
    stray.write_bytes(b"")
    events = list(train(make_task(), run, _opts(iters=25, resume=True)))
    text = " ".join(_messages(events))
    assert "resumed from step 20" in text and "skipped" in text and "latest.pt" in text
    assert "removed 1 temporary file" in text and not stray.exists()


def test_a_failed_checkpoint_write_keeps_the_previous_one_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "latest.pt"

    checkpoint_module.save_checkpoint(path, kind="points", model_name="m", config={},
                                      model_state={"w": torch.ones(3)}, step=1)

    def half_then_enospc(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "write_all", half_then_enospc)
    with pytest.raises(OSError, match="No space"):
        checkpoint_module.save_checkpoint(path, kind="points", model_name="m", config={},
                                          model_state={"w": torch.zeros(3)}, step=2)
    assert load_checkpoint(path).step == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]


def test_a_full_disk_stops_training_with_exit_2_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    from flowstudio.cli.progress import run_training

    real_write = checkpoint_module.write_all
    calls = []

    def write_until_full(fd, data):  # the lowest-level write: the disk fills after 2 checkpoints
        calls.append(len(data))
        if len(calls) > 2:
            os.write(fd, bytes(data[:100]))
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data)

    monkeypatch.setattr(checkpoint_module, "write_all", write_until_full)
    stream = io.StringIO()
    code = run_training(make_task(), tmp_path / "run", _opts(iters=1000, validate_every=1000), stream=stream,
                        live=False)
    last = stream.getvalue().strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in stream.getvalue()
    assert last.startswith("flowstudio: error: run folder") and "the disk is full" in last
    assert "the last good checkpoint is kept (checkpoints/latest.pt, step 20)" in last
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt").step == 20
    assert not _strays(tmp_path / "run")


def _without_root_override() -> list[str]:
    """A command prefix under which permissions apply: root drops the capabilities that let
    it write anywhere (setpriv, util-linux); others need none."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root, this test needs setpriv (util-linux) to honour a read-only folder"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_a_run_folder_made_read_only_mid_run_stops_with_exit_2(tmp_path):
    data = tmp_path / "shape.npy"
    np.save(data, np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32))
    run = tmp_path / "run"
    command = [*_without_root_override(), sys.executable, "-m", "flowstudio", "points", "train", "--data",
               str(data), "--out", str(run), "--model", "planar", "--iters", "1000000", "--device", "cpu",
               "--set", "checkpoint_every=20", "--set", "samples_n=0"]
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "latest.pt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the trainer did not get going"
            time.sleep(0.05)
        for folder in (run / "checkpoints", run):
            folder.chmod(0o555)
        _, err = proc.communicate(timeout=120)
    finally:
        for folder in (run, run / "checkpoints"):
            folder.chmod(0o755)
        if proc.poll() is None:
            proc.kill()
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "no permission to write there" in last and "the last good checkpoint is kept" in last
    assert load_checkpoint(run / "checkpoints" / "latest.pt").step >= 20 and not _strays(run)


def test_two_trainings_on_one_run_folder_are_refused_by_a_lock(tmp_path):
    run = tmp_path / "run"
    first = train(make_task(), run, _opts(iters=30))
    next(first)  # set-up done: the folder is locked
    with pytest.raises(BadInputError, match=r"in use by another training \(process \d+\)"):
        list(train(make_task(), run, _opts(iters=60, resume=True)))
    assert list(first)[-1].step == 30  # the first one was not disturbed
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["iters"] == 30
    events = list(train(make_task(), run, _opts(iters=40, resume=True)))  # released at the end
    assert events[-1].step == 40
    assert [r["step"] for r in read_metrics(run) if "losses" in r] == list(range(5, 45, 5))
