"""Faults under torchrun (2 CPU processes, gloo; issue 18): a rank that raises, is killed
with SIGKILL or hangs ends the whole run with a line naming it; a full disk on rank 0 ends
the run with exit 2 and the last good checkpoint kept; kill -9 of the whole torchrun (or of its
agent alone), then ``--resume`` in 1 or 2 processes, loses at most one checkpoint interval.

The faults are injected by the test's own rank program (``ddp_worker.py fault ...``); the
product has no fault hook. Every torchrun runs under a wall-clock limit, so a run that
hangs fails its test instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from flowstudio.training import load_checkpoint, read_metrics
from tests.training.test_distributed import MOL_ARGS, POINT_ARGS, ROOT, WORKER, _data, failure, torchrun

LIMIT_S = 400
"""A bound on a whole faulty torchrun, start-up on a loaded 2-core machine included; the
faults themselves end the run seconds after they strike."""


def _fault(kind: str, tmp_path: Path, timeout_s: int = 60) -> subprocess.CompletedProcess[str]:
    return torchrun(str(WORKER), "fault", kind, "mols", str(tmp_path / "run"), "3", cwd=tmp_path,
                    timeout=LIMIT_S, FLOWSTUDIO_DIST_TIMEOUT_S=str(timeout_s))


def _exit_code_of(out: subprocess.CompletedProcess[str], rank: int) -> int:
    """Rank ``rank``'s exit code, from torchrun's failure summary."""
    found = re.search(rf"rank\s*: {rank} \(local_rank: {rank}\)\s*\n\s*exitcode\s*: (-?\d+)", out.stderr)
    assert found, failure(out)
    return int(found.group(1))


def _latest_step(run: Path) -> int:
    return load_checkpoint(run / "checkpoints" / "latest.pt").step


@pytest.mark.parametrize(("kind", "said"), [
    ("raise", "rank 1 failed at step 3: RuntimeError: rank 1 fails on purpose at step 3"),
    ("sigkill", "rank 1 died at step 3 (process "),
])
def test_a_rank_that_fails_or_is_killed_ends_the_run_naming_it(kind: str, said: str, tmp_path: Path) -> None:
    out = _fault(kind, tmp_path)
    assert out.returncode != 0
    assert f"error: rank 0 stopped at step 3: {said}" in out.stderr, failure(out)
    assert "pair.cc" not in out.stderr  # gloo's own "Connection closed by peer" is not the message
    if kind == "raise":  # the failing rank's own lines name it too
        assert "error: rank 1: training failed at step 3" in out.stderr
    else:
        assert _exit_code_of(out, 1) == -signal.SIGKILL
    assert _latest_step(tmp_path / "run") == 3  # rank 0 saved where the run stopped
    assert not list((tmp_path / "run").rglob("*.tmp"))


@pytest.mark.slow
def test_a_hanging_rank_ends_the_run_within_the_timeout_naming_it(tmp_path: Path) -> None:
    """Rank 1 sleeps at step 3. Rank 0 waits in a collective for the process group's
    timeout (8 s here), names rank 1 and stops; rank 1, stuck where no collective can
    fail, is ended by its watch thread 8 s after rank 0 posted its failure."""
    out = _fault("hang", tmp_path, timeout_s=8)  # subprocess.run's timeout bounds the whole run
    assert out.returncode != 0
    assert "error: rank 0 stopped at step 3: rank 1 did not answer within the 8 s timeout at step 3" \
        in out.stderr, failure(out)
    assert "flowstudio: error: rank 1: rank 0 failed at step 3" in out.stderr
    assert "this rank did not stop within 8 s (stuck outside the collectives), so it ends now" in out.stderr
    assert _exit_code_of(out, 1) == 1  # ended by the watch, not torchrun's SIGKILL 30 s later
    assert _latest_step(tmp_path / "run") == 3


def test_a_full_disk_on_rank_0_ends_the_run_with_exit_2_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    """From step 3 on, rank 0's checkpoint writes fail with ENOSPC (checkpoints every 2 steps)."""
    out = _fault("diskfull", tmp_path)
    assert out.returncode != 0
    assert _exit_code_of(out, 0) == 2, failure(out)
    line = next(x for x in out.stderr.splitlines() if x.startswith("flowstudio: error: run folder"))
    assert "the disk is full" in line
    assert "the last good checkpoint is kept (checkpoints/latest.pt, step 2)" in line
    assert "error: rank 1 stopped at step 4: rank 0 failed: RunFolderError: run folder" in out.stderr
    assert _latest_step(tmp_path / "run") == 2
    assert not list((tmp_path / "run").rglob("*.tmp"))


def _trained(run: Path) -> int:
    return max([0, *(int(r.get("step", 0)) for r in read_metrics(run) if "losses" in r)])


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "killed"), [("points", "everything"), ("mols", "torchrun alone")])
def test_kill_9_of_torchrun_then_resume_loses_at_most_one_interval(kind: str, killed: str,
                                                                   tmp_path: Path) -> None:
    """SIGKILL to every process of a 2-rank run (torchrun's agent and both ranks), or to the
    agent alone (the ranks, orphans in sessions of their own, then stop after their step
    with a checkpoint); the run resumes in 1 process, then again in 2, from a checkpoint at
    most one interval (3 steps) old."""
    data, extra = _data(kind, tmp_path), POINT_ARGS if kind == "points" else MOL_ARGS
    interval = 3
    args = ["-m", "flowstudio", kind, "train", "--data", str(data), "--out", "run", "--device", "cpu", *extra,
            "--set", f"checkpoint_every={interval}", "--set", "checkpoint_every_s=3600",
            "--set", "log_every=1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args,
         "--iters", "100000"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    run = tmp_path / "run"
    ranks: list[int] = []
    try:
        deadline = time.monotonic() + LIMIT_S
        while _trained(run) < 2 * interval + 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the 2-rank run did not get going"
            time.sleep(0.05)
    finally:  # torchrun starts each rank in a session of its own: a process group misses them
        ranks = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        for pid in [proc.pid, *ranks] if killed == "everything" else [proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    trained = _trained(run)  # a lower bound: a step may have ended after its record
    deadline = time.monotonic() + LIMIT_S
    while any(_running(pid) for pid in ranks):
        assert time.monotonic() < deadline, "the orphaned ranks did not stop"
        time.sleep(0.1)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if killed == "torchrun alone":
        assert "torchrun (process" in err and "is gone; stopping after this step" in err
        assert _latest_step(run) >= trained  # they stopped with a checkpoint: nothing lost
    one = subprocess.run([sys.executable, *args, "--resume", "--iters", str(_trained(run) + 1)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=LIMIT_S, env=env)
    assert one.returncode == 0, failure(one)
    resumed = int(re.search(r"resumed from step (\d+)", one.stderr).group(1))
    assert trained - interval <= resumed
    assert not list(run.rglob("*.tmp"))
    after_one = _latest_step(run)
    two = torchrun(*args, "--resume", "--iters", str(after_one + 2), cwd=tmp_path, timeout=LIMIT_S)
    assert two.returncode == 0, failure(two)
    assert two.stderr.count(f"resumed from step {after_one}") == 1  # said by rank 0 alone
    assert _latest_step(run) == after_one + 2
    config = json.loads((run / "config.json").read_text())
    assert config["distributed"]["world_size"] == 2


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, killed but not yet reaped, does not)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False
