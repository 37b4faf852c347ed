"""A trainer process stops cleanly when asked from outside: SIGTERM (a window closing, a
scheduler) and the run folder's control file both end it with a final checkpoint and the
log's ``finished`` record. Real child processes, tiny runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from flowstudio.training.remote import SINCE_ENV, send_command
from flowstudio.training.runs import Run, read_metrics

ROOT = Path(__file__).resolve().parents[2]
TINY = {"model": "realnvp", "sets": ["flow_layers=2", "flow_hidden=8", "batch_size=64", "log_every=1",
                                     "samples_every_s=0", "samples_n=1", "snapshot_points=64",
                                     "checkpoint_every_s=3600", "validate_every=100000"]}


def start(out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    sets = [arg for pair in TINY["sets"] for arg in ("--set", pair)]
    return subprocess.Popen(
        [sys.executable, "-m", "flowstudio", "points", "train", "--out", str(out), "--model", TINY["model"],
         "--data", str(ROOT / "samples" / "pointclouds" / "torus_knot.ply"),
         "--iters", "1000000", "--device", "cpu", *sets],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )


def wait_for_steps(process: subprocess.Popen[str], out: Path, timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, process.stderr.read()
        if any("losses" in r for r in read_metrics(out)) and Run(out).snapshot_path.is_file():
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail("the trainer wrote no progress")


def test_sigterm_stops_the_trainer_with_a_final_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = start(out)
    wait_for_steps(process, out)
    process.send_signal(signal.SIGTERM)
    assert process.wait(300) == 130, process.stderr.read()
    last = read_metrics(out)[-1]
    assert last["event"] == "finished" and last["reason"] == "stopped"
    saved = torch.load(Run(out).latest, weights_only=True)
    assert saved["step"] == last["step"]


def test_the_control_file_pauses_and_stops_the_trainer(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    send_command(out, "stop", now=time.time() - 60)  # left by an earlier session: ignored
    process = start(out, env={**os.environ, SINCE_ENV: repr(time.time() - 1)})
    wait_for_steps(process, out)
    send_command(out, "pause")
    time.sleep(2.0)  # the watcher polls every 0.25 s; the engine pauses after its step
    paused_at = max(int(r["step"]) for r in read_metrics(out))
    time.sleep(1.5)
    assert max(int(r["step"]) for r in read_metrics(out)) == paused_at, "a paused run went on"
    send_command(out, "stop")  # releases the pause and ends the run
    assert process.wait(300) == 0, process.stderr.read()
    assert read_metrics(out)[-1]["reason"] == "stopped"
