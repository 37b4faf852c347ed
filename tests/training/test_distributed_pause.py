"""Pause under torchrun (2 CPU processes, gloo; issue 14): the ranks agree to pause, wait
together and resume at the same step, even when the pause lasts longer than the process
group's timeout; a stop while paused ends the run with a checkpoint at the paused step.

The window's Pause reaches a trainer through the run folder's control file, which each rank
reads on its own clock; before the pause was agreed, the rank that paused first left the
other waiting inside the next step's all-reduce, and a pause longer than the timeout failed
the run. Here the timeout is 8 s, the pause 20 s, and rank 1 obeys a pause only 3 steps
after it reads it (``ddp_worker.py steps``), as a rank behind a slow shared folder would, so
the ranks' own clocks disagree however fast or slow the machine is.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowstudio.training import load_checkpoint
from flowstudio.training.remote import SINCE_ENV, send_command
from tests.training.test_distributed import ROOT, WORKER

TIMEOUT_S = 8
PAUSE_S = 20
LIMIT_S = 400
"""A bound on each wait, start-up on a loaded 2-core machine included."""


def _steps(run: Path, rank: int) -> list[tuple[int, float]]:
    """``(step, time)`` for each step rank ``rank`` started."""
    path = run.with_name(f"{run.name}.steps-{rank}")
    if not path.is_file():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(row[0]), float(row[1])) for row in rows if len(row) == 2]  # the last may be half written


def _wait(proc: subprocess.Popen[str], ready, what: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not ready():
        assert proc.poll() is None, f"the run ended while waiting until {what}"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def _quiet(run: Path, seconds: float = 2.0) -> bool:
    """Both ranks have started no step for ``seconds``."""
    now = time.time()
    return all(_steps(run, rank) and now - _steps(run, rank)[-1][1] >= seconds for rank in (0, 1))


def _resumed_at(run: Path, rank: int, gap_s: float) -> int:
    """The step rank ``rank`` started first after a gap of at least ``gap_s`` seconds."""
    rows = _steps(run, rank)
    return next(b[0] for a, b in itertools.pairwise(rows) if b[1] - a[1] >= gap_s)


@pytest.mark.slow
def test_a_pause_longer_than_the_timeout_is_agreed_and_resumes_and_stops_together(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "FLOWSTUDIO_DIST_TIMEOUT_S": str(TIMEOUT_S), SINCE_ENV: str(time.time())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
         "steps", "mols", str(run)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait(proc, lambda: min(len(_steps(run, 0)), len(_steps(run, 1))) >= 5, "both ranks train")
        send_command(run, "pause")
        _wait(proc, lambda: _quiet(run), "both ranks pause")
        paused = [_steps(run, rank)[-1][0] for rank in (0, 1)]
        time.sleep(PAUSE_S)
        assert proc.poll() is None  # a pause past the process group's timeout did not fail the run
        assert [_steps(run, rank)[-1][0] for rank in (0, 1)] == paused  # and no rank stepped on
        send_command(run, "resume")
        _wait(proc, lambda: min(len(_steps(run, 0)), len(_steps(run, 1))) >= paused[0] + 5, "both resume")
        resumed = [_resumed_at(run, rank, PAUSE_S - 1) for rank in (0, 1)]
        assert resumed[0] == resumed[1] == paused[0] + 1  # the same step on both ranks, none lost
        send_command(run, "pause")
        _wait(proc, lambda: _quiet(run), "both ranks pause again")
        again = _steps(run, 0)[-1][0]
        send_command(run, "stop")
        proc.wait(timeout=LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, err[-3000:]
    for rank in (0, 1):  # every rank ran the same steps, each once: no rollback, no rank ahead
        assert [step for step, _ in _steps(run, rank)] == list(range(again + 1))
    assert err.count(f"paused at step {paused[0] + 1}") == 1  # said by rank 0 alone
    assert f"resumed at step {paused[0] + 1}" in err
    assert f"finished (stopped) at step {again + 1}" in err
    assert load_checkpoint(run / "checkpoints" / "latest.pt").step == again + 1
