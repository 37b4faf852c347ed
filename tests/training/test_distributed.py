"""Data-parallel training on 2 CPU processes (gloo) under torchrun: gradients, the CLI, bad
environments (a rank's faults are in test_distributed_faults.py).

Each test starts ``torchrun --standalone`` (a free port) in a subprocess; the ranks run
``tests/training/ddp_worker.py`` or ``flowstudio ... train``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.training import Run
from flowstudio.training.distributed import FollowerRun, World, rank_seed, world_from_env
from flowstudio.training.rng import seed_everything
from flowstudio.training.runlock import RunLock
from tests.training.ddp_worker import SEED, SMILES, tiny_task

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args: str, cwd: Path, timeout: float = 400, **env: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone`` on 2 CPU processes; ``timeout`` bounds the whole run, start-up
    included (two ranks importing torch and RDKit took 100-210 s on the shared machine at
    load 15-20), so a hang fails the test instead of the suite."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environ,
    )


def failure(out: subprocess.CompletedProcess[str]) -> str:
    """What went wrong in a torchrun subprocess: every rank's error lines, then the tail."""
    words = ("Error", "error:", "terminate called", "what():")  # Python's and C++'s
    lines = [line for line in out.stderr.splitlines() if any(w in line for w in words)]
    return "\n".join(lines[:40]) + "\n...\n" + out.stderr[-2000:]


@pytest.mark.parametrize("engine", ["points", "points-adjoint", "mols"])
def test_two_ranks_average_the_gradients_of_one_process(engine: str, tmp_path: Path) -> None:
    """One step on 2 ranks gives the gradient of the global batch (both ranks' draws) that
    one process computes: the mean over the ranks' batches of the per-batch gradients."""
    out = torchrun(str(WORKER), "grads", engine, str(tmp_path / "grads.pt"), cwd=tmp_path)
    assert out.returncode == 0, failure(out)
    ddp = torch.load(tmp_path / "grads.pt", weights_only=True)
    task = tiny_task(engine)
    params = dict(task.model.named_parameters())
    total: dict[str, torch.Tensor] = {}
    for rank in (0, 1):
        seed_everything(rank_seed(SEED, 0, rank))
        task.model.zero_grad(set_to_none=True)
        task.training_step(0)["loss"].backward()
        for name, p in params.items():
            if p.grad is not None:
                total[name] = total.get(name, 0) + p.grad / 2
    assert set(ddp) == set(total) and len(total) == len(params)
    for name, grad in total.items():
        torch.testing.assert_close(ddp[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # the ranks drew different batches: the gradient of rank 0's batch alone differs
    seed_everything(rank_seed(SEED, 0, 0))
    task.model.zero_grad(set_to_none=True)
    task.training_step(0)["loss"].backward()
    assert any(not torch.allclose(params[n].grad, g, rtol=1e-3, atol=1e-6) for n, g in total.items())


POINT_ARGS = ["--model", "pointflow", "--set", "point_hidden=8-8", "--set", "solver=euler",
              "--set", "steps=1",
              "--set", "train_points=16", "--set", "points_per_shape=64", "--set", "validate_every=3",
              "--set", "snapshot_points=16", "--set", "log_every=1", "--set", "latent_dim=4",
              "--set", "encoder_hidden=8-8", "--set", "prior_hidden=8-8", "--set", "batch_size=2",
              "--set", "prior_refine_s=0"]
MOL_ARGS = ["--set", "hidden=8", "--set", "st_hidden=8", "--set", "flow_layers=1", "--set", "rgcn_layers=1",
            "--set", "batch_size=4", "--set", "validate_every=2", "--set", "samples_n=0",
            "--set", "validation_fraction=0.25", "--set", "size_calibration=0",
            "--set", "ring_tilt_steps=0"]


def _data(kind: str, folder: Path) -> Path:
    if kind == "points":
        rng = np.random.default_rng(0)
        pts = rng.normal(size=(6, 64, 3))
        pts /= np.linalg.norm(pts, axis=-1, keepdims=True)
        np.savez(folder / "tiny.npz", points=(pts * np.array([1.0, 0.5, 0.25]) + 5.0).astype(np.float32))
        return folder / "tiny.npz"
    (folder / "train.smi").write_text("\n".join(SMILES) + "\n")
    return folder / "train.smi"


@pytest.mark.parametrize("kind", ["points", "mols"])
def test_two_process_cli_run_writes_one_run_folder_that_resumes_in_one(kind: str, tmp_path: Path) -> None:
    data = _data(kind, tmp_path)
    extra = POINT_ARGS if kind == "points" else MOL_ARGS
    out = torchrun("-m", "flowstudio", kind, "train", "--data", str(data), "--out", "run", "--iters", "4",
                   "--device", "cpu", *extra, cwd=tmp_path)
    assert out.returncode == 0, failure(out)
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "latest.pt"]
    assert not list(run.rglob("*.tmp*"))
    config = json.loads((run / "config.json").read_text())
    per_rank = config["task"]["values"]["batch_size"]
    assert config["distributed"] == {"world_size": 2, "per_rank_batch": per_rank,
                                     "global_batch": 2 * per_rank, "backend": "gloo"}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "losses" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 4  # one writer: no step logged twice
    assert out.stderr.count("finished (iterations) at step 4") == 2  # each rank reports its end
    assert out.stderr.count("checkpoint at step 4") == 2  # latest and best, by rank 0 only
    again = subprocess.run(
        [sys.executable, "-m", "flowstudio", kind, "train", "--out", "run", "--resume", "--iters", "6",
         "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True, timeout=400,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert again.returncode == 0, failure(again)
    assert "resumed from step 4" in again.stderr
    assert json.loads((run / "config.json").read_text())["distributed"]["world_size"] == 1
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == 6


@pytest.mark.parametrize(("env", "problem"), [
    ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2 is not in 0..1"),
    ({"WORLD_SIZE": "two"}, "must be integers"),
])
def test_a_bad_torchrun_environment_is_bad_input(env: dict[str, str], problem: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(BadInputError, match=problem):
        world_from_env()


def test_one_process_is_not_distributed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world = world_from_env()
    task = tiny_task("mols")
    assert not world.distributed and world.is_main
    assert world.step_function(task, SEED, 0) == task.training_step  # no wrapper, no reseeding
    assert world.run_view(Run(tmp_path)).__class__ is Run
    assert world.agree("minutes", True, torch.device("cpu")) == ("minutes", True)


def test_a_follower_rank_reads_the_run_folder_but_writes_nothing(tmp_path: Path) -> None:
    follower = World(rank=1, size=2).run_view(Run(tmp_path / "run"))
    assert isinstance(follower, FollowerRun)
    assert follower.open_for_training(RunLock(tmp_path / "run"), resume=False) == 0
    follower.write_config({"kind": "points"})
    follower.append_metrics({"step": 1})
    with follower.writing("metrics.jsonl"):
        follower.truncate_metrics(0)
    assert not (tmp_path / "run").exists()
