"""A task may ask the engine for fewer intra-op threads on the CPU (GraphAF: one)."""

from __future__ import annotations

import torch

from flowstudio.training import TrainOptions, train
from tests.training.gmm_task import GaussianMixtureTask


def _threads_during_training(tmp_path, monkeypatch, cpu_threads: int | None, omp: str | None) -> set[int]:
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    seen: set[int] = set()
    task = GaussianMixtureTask(hook=lambda step: seen.add(torch.get_num_threads()))
    if cpu_threads is not None:
        task.cpu_threads = cpu_threads  # type: ignore[attr-defined]
    options = TrainOptions(iters=4, device="cpu", log_every=2, validate_every=4, samples_n=0)
    list(train(task, tmp_path / f"run{cpu_threads}{omp}", options))
    return seen


def test_the_engine_trains_on_the_threads_a_task_asks_for_and_restores_them(tmp_path, monkeypatch) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _threads_during_training(tmp_path, monkeypatch, 1, None) == {1}
        assert torch.get_num_threads() == 2  # restored when the run ends
        assert _threads_during_training(tmp_path, monkeypatch, None, None) == {2}  # no wish: unchanged
        assert _threads_during_training(tmp_path, monkeypatch, 1, "2") == {2}  # the user's choice wins
    finally:
        torch.set_num_threads(before)


def test_graphaf_asks_for_one_thread() -> None:
    from flowstudio.molecules.task import MoleculeTask

    assert MoleculeTask.cpu_threads == 1
