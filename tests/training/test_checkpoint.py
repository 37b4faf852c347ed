"""Checkpoints are tensors and plain data, written atomically, and untrusted on load."""

from __future__ import annotations

import pickle

import pytest
import torch

from flowstudio.errors import CheckpointError
from flowstudio.training import Run, load_checkpoint, save_checkpoint
from flowstudio.training.checkpoint import FORMAT
from flowstudio.training.rng import capture_rng_state, restore_rng_state


def _save(path, **kw):
    args = {"kind": "points", "model_name": "gmm2d", "config": {"hidden": 16, "names": ["a", "b"]},
            "model_state": {"w": torch.arange(6.0).reshape(2, 3)}, "extra_state": {"n": torch.tensor(3)},
            "step": 12, "metric": 1.5}
    save_checkpoint(path, **{**args, **kw})


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling this would create the marker file
        return (open, (self.marker, "w"))


def test_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "ckpt" / "a.pt"
    _save(path)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT
    ckpt = load_checkpoint(path, expect_kind="points", expect_model="gmm2d")
    assert ckpt.step == 12 and ckpt.metric == 1.5 and ckpt.config == {"hidden": 16, "names": ["a", "b"]}
    assert torch.equal(ckpt.model_state["w"], torch.arange(6.0).reshape(2, 3))
    assert int(ckpt.extra_state["n"]) == 3 and ckpt.versions["torch"]
    assert [p.name for p in path.parent.iterdir()] == ["a.pt"]  # no temp file left behind


def test_save_refuses_what_weights_only_could_not_load(tmp_path):
    import numpy as np

    with pytest.raises(TypeError, match="ndarray"):
        _save(tmp_path / "a.pt", extra_state={"x": np.zeros(3)})
    with pytest.raises(TypeError, match="JSON"):
        _save(tmp_path / "a.pt", config={"x": object()})
    assert not list(tmp_path.iterdir())


def test_corrupt_truncated_and_foreign_files_are_refused_by_name(tmp_path):
    good = tmp_path / "good.pt"
    _save(good)
    data = good.read_bytes()
    cases = {
        "truncated.pt": data[: len(data) // 2],
        "garbage.pt": b"\x00not a checkpoint at all" * 10,
        "empty.pt": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match=r"plain\.pt: not a FlowStudio checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "model_state": {}, "config": {}, "payload": _RunsCode(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"evil\.pt"):
        load_checkpoint(evil)
    raw_pickle = tmp_path / "raw.pt"
    raw_pickle.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(CheckpointError, match=r"raw\.pt"):
        load_checkpoint(raw_pickle)
    assert not marker.exists()


def test_wrong_kind_model_or_newer_format_is_refused(tmp_path):
    path = tmp_path / "mol.pt"
    _save(path, kind="molecules", model_name="graphaf")
    with pytest.raises(CheckpointError, match=r"'molecules' checkpoint .*not a 'points' one"):
        load_checkpoint(path, expect_kind="points")
    with pytest.raises(CheckpointError, match="'graphaf' model, not 'cnf'"):
        load_checkpoint(path, expect_model="cnf")
    raw = torch.load(path, weights_only=True)
    raw["format_version"] = 99
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="newer FlowStudio"):
        load_checkpoint(path)


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    np.random.standard_normal()  # leaves a cached Gaussian in numpy's state
    random.gauss(0, 1)
    _save(tmp_path / "r.pt", engine_state={"rng": capture_rng_state()})
    expected = (torch.rand(3), np.random.standard_normal(3), random.gauss(0, 1), random.random())
    restore_rng_state(load_checkpoint(tmp_path / "r.pt").engine_state["rng"])
    again = (torch.rand(3), np.random.standard_normal(3), random.gauss(0, 1), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2:] == again[2:]


def test_run_checkpoint_prefers_best_and_reports_an_empty_run(tmp_path):
    run = Run(tmp_path / "run")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        run.checkpoint()
    run.create()
    _save(run.latest)
    assert run.checkpoint() == run.latest
    _save(run.best)
    assert run.checkpoint() == run.best and run.checkpoint("latest") == run.latest


def test_non_finite_weights_are_refused_on_load(tmp_path):
    path = tmp_path / "nan.pt"
    _save(path, model_state={"w": torch.tensor([1.0, float("nan")]), "n": torch.tensor(3)})
    with pytest.raises(CheckpointError, match=r"nan.pt: its weights hold NaN or infinite values \(w\)"):
        load_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_refusal_names_the_blocked_object_without_advising_an_unsafe_load(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"x": _RunsCode(tmp_path / "ran")}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "weights_only" not in message and "trusted source" not in message
    assert "io.open" in message and "\n" not in message
