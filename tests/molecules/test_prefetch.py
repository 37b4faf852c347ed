"""GraphAF's batch-packing worker: the same batches as without it, exact resume, a clean end
however the run ends (no orphan process), and training without it when it fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from flowstudio.molecules import prefetch
from flowstudio.molecules.task import MoleculeTask
from flowstudio.training import Control, Finished, Progress, TrainOptions, train

SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "CC#N", "C1CCNCC1",
          "c1ccncc1", "CC(C)Cc1ccccc1", "O=C1CCCN1", "CSC"]
TINY = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.25,
        "batch_size": 4, "size_calibration": 0, "ring_tilt_steps": 0, "seed": 0}
ROOT = Path(__file__).resolve().parents[2]


def _task(setting: str) -> MoleculeTask:
    return MoleculeTask(SMILES, "quick", {**TINY, "pack_worker": setting})


def _options(iters: int, resume: bool = False) -> TrainOptions:
    return TrainOptions(iters=iters, device="cpu", log_every=1, validate_every=100, samples_n=0,
                        seed=3, resume=resume)


def _losses(events: list) -> list[float]:
    return [e.losses["loss"] for e in events if isinstance(e, Progress)]


def _weights(task: MoleculeTask) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in task.model.parameters()])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not running.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_the_worker_packs_the_same_batches_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path) -> None:
    reference = _task("off")
    expected = _losses(list(train(reference, tmp_path / "off", _options(8))))
    assert reference.worker_batches == 0

    first = _task("on")
    assert first.start_packing_worker(wait_s=60)
    pid = first._prefetcher.pid
    events = list(train(first, tmp_path / "on", _options(4)))
    assert events[-1].reason == "iterations"
    assert first.worker_batches == 3  # every step's batch but the first
    assert _gone_within(pid, 5), "the run ended, its worker did not"

    resumed = _task("on")
    assert resumed.start_packing_worker(wait_s=60)
    events = list(train(resumed, tmp_path / "on", _options(8, resume=True)))
    assert resumed.worker_batches == 3
    assert _losses(events) == expected[4:]
    assert torch.equal(_weights(resumed), _weights(reference))


def test_a_worker_that_dies_mid_run_leaves_the_same_run(tmp_path) -> None:
    reference = _task("off")
    expected = _losses(list(train(reference, tmp_path / "off", _options(6))))
    task = _task("on")
    assert task.start_packing_worker(wait_s=60)
    losses = []
    for event in train(task, tmp_path / "on", _options(6)):
        if isinstance(event, Progress):
            losses.append(event.losses["loss"])
            if event.step == 3:
                os.kill(task._prefetcher.pid, signal.SIGKILL)
    assert losses == expected
    assert 1 <= task.worker_batches <= 3  # packed steps 2 and 3 (4 was asked for as it died)
    assert torch.equal(_weights(task), _weights(reference))


@pytest.mark.parametrize("how", ["stop", "error"])
def test_the_worker_ends_with_a_stopped_or_failed_run(how: str, tmp_path, monkeypatch) -> None:
    task = _task("on")
    assert task.start_packing_worker(wait_s=60)
    pid = task._prefetcher.pid
    control = Control()
    if how == "error":
        real = task.model.loss_terms
        calls = []

        def failing(packed):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("a bug in the model")
            return real(packed)

        monkeypatch.setattr(task.model, "loss_terms", failing)
    events = []
    for event in train(task, tmp_path / "run", TrainOptions(iters=1000, device="cpu", log_every=1,
                                                             samples_n=0, seed=3), control):
        events.append(event)
        if how == "stop" and isinstance(event, Progress) and event.step == 2:
            control.stop()
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.reason == ("stopped" if how == "stop" else "error")
    assert _gone_within(pid, 5)


def test_a_killed_trainer_leaves_no_worker(tmp_path) -> None:
    script = (
        "import os, signal, sys\n"
        "from tests.molecules.test_prefetch import _task\n"
        "task = _task('on')\n"
        "assert task.start_packing_worker(wait_s=60)\n"
        "print(task._prefetcher.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert _gone_within(int(out.stdout.split()[0]), 10), "the worker outlived its trainer"


def test_training_goes_on_without_a_worker_that_cannot_start(tmp_path, monkeypatch, caplog) -> None:
    def no_process(*args, **kwargs):
        raise OSError("no processes left")

    reference = _task("off")
    expected = _losses(list(train(reference, tmp_path / "off", _options(3))))
    monkeypatch.setattr(prefetch.subprocess, "Popen", no_process)
    task = _task("on")
    assert _losses(list(train(task, tmp_path / "on", _options(3)))) == expected
    assert task.worker_batches == 0
    assert "could not start: no processes left" in caplog.text


def test_auto_wants_a_core_for_the_worker_beside_each_training_process(monkeypatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert prefetch.worker_wanted("auto") and prefetch.worker_wanted("on")
    assert not prefetch.worker_wanted("off")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two ranks on two cores: none to spare
    assert not prefetch.worker_wanted("auto")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # pinned to one core
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert not prefetch.worker_wanted("auto")


def test_a_batch_is_used_only_when_drawn_from_the_generator_state_it_was_asked_for() -> None:
    task = _task("on")
    assert task.start_packing_worker(wait_s=60)
    worker = task._prefetcher
    try:
        np.random.seed(5)
        asked = np.random.get_state()
        worker.request(asked)
        np.random.random()  # something else drew from the generator in between
        assert worker.take(np.random.get_state()) is None
        worker.request(asked)
        packed, after = worker.take(asked)
        np.random.set_state(asked)
        own = prefetch.draw_batch(task.train_graphs, task.vocab, TINY["batch_size"], np.random)
        assert prefetch.same_state(after, np.random.get_state())
        assert torch.equal(packed.edge_ring, own.edge_ring) and torch.equal(packed.inst_type, own.inst_type)
    finally:
        task.close()


def test_each_rank_of_a_torchrun_run_trains_on_its_own_batches_packed_by_its_worker(tmp_path) -> None:
    from tests.training.test_distributed import WORKER, failure, torchrun

    run = tmp_path / "run"
    out = torchrun(str(WORKER), "packed", str(run), cwd=tmp_path)
    assert out.returncode == 0, failure(out)
    for rank in (0, 1):
        batches, mismatches, pid = (int(v) for v in (tmp_path / f"run.packed-{rank}").read_text().split())
        assert (batches, mismatches) == (9, 0), rank  # every batch but the first, each as drawn inline
        assert _gone_within(pid, 5), f"rank {rank}'s worker outlived the run"
