"""The ring tilt stage: the tilt's exponent, fine-tuning on the model's own molecules, the
average it ends on, and its place before the END calibration in a run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from flowstudio.molecules.settings import resolve
from flowstudio.molecules.task import MoleculeTask
from flowstudio.molecules.tilting import RingTilt, mean_fused_systems, tilt_exponent, tilt_weights
from flowstudio.training.stages import run_stage

# Fused systems (naphthalene, indole, tetralin) beside single rings and chains.
SMILES = [
    "c1ccc2ccccc2c1", "c1ccc2[nH]ccc2c1", "C1CCc2ccccc2C1", "CCO", "c1ccccc1O", "CC(=O)N",
    "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "C1CCNCC1",
]  # fmt: skip
TINY = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.2}


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_the_tilt_exponent_gives_the_target_mean() -> None:
    phi = np.array([1.0] * 20 + [0.0] * 80)  # one molecule in five has a fused system
    lam = tilt_exponent(phi, 0.365)
    assert lam == pytest.approx(_logit(0.365) - _logit(0.2), abs=1e-6)  # the closed form for 0/1
    rng = np.random.default_rng(0)
    counts = rng.choice([0.0, 1.0, 2.0, 3.0], size=500, p=[0.8, 0.15, 0.04, 0.01])
    w = tilt_weights(counts, tilt_exponent(counts, 0.5))
    assert w.sum() == pytest.approx(1.0) and (w * counts).sum() == pytest.approx(0.5, abs=1e-6)
    lower = tilt_weights(counts, tilt_exponent(counts, 0.1))
    assert (lower * counts).sum() == pytest.approx(0.1, abs=1e-6)  # a tilt down works alike
    assert tilt_exponent(np.zeros(10), 0.4) == 0.0  # nothing to tilt
    assert tilt_exponent(counts, 5.0) == pytest.approx(10.0)  # out of reach: the bound


def test_the_training_molecules_fused_systems_are_counted() -> None:
    assert mean_fused_systems(SMILES) == pytest.approx(0.3)
    assert mean_fused_systems(["not a molecule", "c1ccc2ccccc2c1"]) == 1.0


def _task(**values: object) -> MoleculeTask:
    return MoleculeTask(SMILES, "quick", {**TINY, "seed": 0, "size_calibration": 20, **values})


def test_the_stage_fine_tunes_on_its_own_molecules_and_ends_on_its_average() -> None:
    task = _task(ring_tilt_steps=4, weight_average=0.9)
    tilt, calibration = task.final_stages()  # the tilt first: the END calibration fits its sizes
    assert isinstance(tilt, RingTilt) and not tilt.judged and not tilt.on_stop
    assert type(calibration).__name__ == "EndCalibration"
    assert tilt.lr == pytest.approx(task.values["lr"] / 4) and tilt.half == task.values["batch_size"] // 2
    assert tilt.target == pytest.approx(mean_fused_systems(task.train_smiles))
    before = [p.detach().clone() for p in task.model.parameters()]
    lines = list(run_stage(tilt))
    assert lines[0].startswith("ring tilt: ") and "own molecules" in lines[0]
    assert "4 fine-tuning steps" in lines[0]
    assert lines[-1] == "ring tilt: 4 steps done" and tilt.taken == 4 and tilt.own
    assert tilt.average is not None and tilt.average.updates == 4  # one update after every optimizer step
    assert not task.model.training
    state = task.model.state_dict()
    for name, averaged in zip(tilt.average.names, tilt.average.average, strict=True):
        torch.testing.assert_close(state[name], averaged)  # the average is the stage's result
    assert any(not torch.equal(a, b) for a, b in zip(before, task.model.parameters(), strict=True))


def test_the_presets_tilt_and_zero_steps_turn_the_stage_off() -> None:
    (tilt, _) = MoleculeTask(SMILES, "quick", dict(TINY)).final_stages()
    assert isinstance(tilt, RingTilt) and tilt.steps == 400 == resolve("quick")["ring_tilt_steps"]
    assert resolve("full")["ring_tilt_steps"] == 400
    stages = _task(ring_tilt_steps=0).final_stages()
    assert [type(s).__name__ for s in stages] == ["EndCalibration"]


def test_a_non_finite_loss_puts_back_the_weights_from_before() -> None:
    task = _task(ring_tilt_steps=3)
    tilt = task.final_stages()[0]
    start = {k: v.clone() for k, v in task.model.state_dict().items()}
    first = tilt.step()  # draws the own molecules and keeps the weights it started from
    assert first is not None and first.terms is None and tilt.average is not None  # the preset's 0.99
    with torch.no_grad():
        next(task.model.parameters()).fill_(float("nan"))
    lines = list(run_stage(tilt))  # the next step's loss is NaN
    assert lines[-1].startswith("ring tilt abandoned")
    for name, value in task.model.state_dict().items():
        torch.testing.assert_close(value, start[name], equal_nan=False)


def test_a_run_tilts_before_it_calibrates_and_keeps_the_tilted_weights(tmp_path) -> None:
    from flowstudio.training import Message, load_checkpoint, train
    from flowstudio.training.options import TrainOptions

    task = _task(ring_tilt_steps=3)
    options = TrainOptions(iters=4, device="cpu", log_every=2, validate_every=2, samples_n=0)
    lines = [e.text for e in train(task, tmp_path / "run", options) if isinstance(e, Message)]
    tilt = next(i for i, line in enumerate(lines) if "own molecules" in line)
    calibration = next(i for i, line in enumerate(lines) if line.startswith("END calibration 1/3"))
    assert tilt < calibration and "ring tilt: 3 steps done" in lines
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    for name, value in task.model.state_dict().items():  # kept whatever validation says (not judged)
        torch.testing.assert_close(best.model_state[name], value)


def test_its_own_molecules_come_from_the_model_itself_at_temperature_one() -> None:
    import copy

    from flowstudio.molecules.generate import generate

    task = _task()
    model = copy.deepcopy(task.model).eval()
    tilt = RingTilt(
        task.model, task.train_graphs, 0.3, 2, batch_size=8, lr=1e-3, temperature=0.7, n_own=40, n_cooled=30
    )
    first = tilt.step()
    assert first is not None and first.line is not None and "at temperature 1" in first.line
    seed = int(np.random.default_rng(0).integers(2**31))
    again = generate(model, 40, temperature=1.0, edge_temperature=1.0, check=True, seed=seed)
    valid = [atoms for atoms, mol in zip(again.atoms, again.mols, strict=True) if mol is not None]
    assert [list(g.atoms) for g in tilt.own] == [list(a) for a in valid]
    ratio = tilt.before / tilt.cooled if tilt.cooled > 0 else 1.0
    assert f"target {0.3 * ratio:.3f} at temperature 1" in first.line
