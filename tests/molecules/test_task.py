"""The GraphAF training task: repeatable initial weights and the engine's options."""

from __future__ import annotations

from dataclasses import fields

import torch
from rdkit import Chem

from flowstudio.molecules.settings import ENGINE_OPTIONS
from flowstudio.molecules.task import MoleculeTask
from flowstudio.training.options import TrainOptions

SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "CC#N", "C1CCNCC1"]
# The ring tilt (on in the presets) has its own tests (test_tilting.py); these leave it out.
TINY = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.25,
        "ring_tilt_steps": 0}


def _weights(seed: int, global_seed: int) -> torch.Tensor:
    torch.manual_seed(global_seed)  # the state of the global generator must not matter
    task = MoleculeTask(SMILES, "quick", {**TINY, "seed": seed})
    return torch.cat([p.detach().flatten() for p in task.model.parameters()])


def test_initial_weights_depend_on_the_seed_alone() -> None:
    torch.testing.assert_close(_weights(0, global_seed=1), _weights(0, global_seed=2))
    assert not torch.equal(_weights(0, global_seed=1), _weights(1, global_seed=1))


def test_every_engine_option_is_a_hyperparameter() -> None:
    engine = {f.name for f in fields(TrainOptions)} - {"resume"}
    assert engine <= set(ENGINE_OPTIONS), engine - set(ENGINE_OPTIONS)


def test_a_run_ends_calibrated_and_its_checkpoints_carry_the_offsets(tmp_path) -> None:
    from flowstudio.training import Message, load_checkpoint, train
    from flowstudio.training.restore import restore_task

    task = MoleculeTask(SMILES, "quick", {**TINY, "size_calibration": 40, "seed": 0})
    options = TrainOptions(iters=6, device="cpu", log_every=3, validate_every=3, samples_n=0)
    events = list(train(task, tmp_path / "run", options))
    lines = [e.text for e in events if isinstance(e, Message) and e.text.startswith("END calibration")]
    assert len(lines) == 3 and "3/3" in lines[-1] and "80 samples" in lines[-1]
    offsets = task.model.end_offset
    assert offsets.abs().sum() > 0  # these tiny molecules end nothing like an untrained model's
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    torch.testing.assert_close(best.extra_state["end_offset"], offsets)
    restored = restore_task(tmp_path / "run" / "checkpoints" / "best.pt", kind="molecules").task
    torch.testing.assert_close(restored.model.end_offset, offsets)


def test_a_checkpoint_with_a_bad_calibration_is_refused() -> None:
    import pytest

    from flowstudio.errors import BadInputError

    task = MoleculeTask(SMILES, "quick", TINY)
    n = task.model.end_offset.numel()
    with pytest.raises(BadInputError, match="END calibration has shape"):
        task.load_extra_state({"end_offset": torch.zeros(n + 1)})
    with pytest.raises(BadInputError, match="not finite"):
        task.load_extra_state({"end_offset": torch.full((n,), float("nan"))})
    task.load_extra_state({})  # a run from before the calibration: left at zero
    assert not task.model.end_offset.any()


def test_the_ring_check_sizes_come_from_the_data_and_travel_with_the_config() -> None:
    import pytest

    from flowstudio.errors import BadInputError

    cyclic = [*SMILES, "C1CC1C", "C1CCC1O"]  # a 3- and a 4-ring among ten molecules
    task = MoleculeTask(cyclic, "quick", TINY)
    assert task.model.ring_sizes == (3, 4, 5, 6, 7)
    assert MoleculeTask.from_config(task.config()).model.ring_sizes == (3, 4, 5, 6, 7)
    chosen = MoleculeTask(cyclic, "quick", {**TINY, "ring_sizes": "5-6"})
    assert MoleculeTask.from_config(chosen.config()).model.ring_sizes == (5, 6)
    assert MoleculeTask(cyclic, "quick", {**TINY, "ring_sizes": "any"}).model.ring_sizes is None
    with pytest.raises(BadInputError, match="ring sizes"):
        MoleculeTask(cyclic, "quick", {**TINY, "ring_sizes": "5-x"})
    # a run from before the ring features and the ring check: neither
    old = task.config()
    del old["ring_sizes"], old["values"]["ring_features"]
    restored = MoleculeTask.from_config(old)
    assert restored.model.ring_sizes is None and restored.model.edge_first_ring is None


def test_the_kinds_of_ring_system_come_from_the_data_and_travel_with_the_config() -> None:
    import pytest

    from flowstudio.errors import BadInputError
    from flowstudio.molecules.rings import ring_system_kinds

    data = [*SMILES, "c1ccc2[nH]ccc2c1", "Cn1ccc2ccccc21"]  # indole twice: one kind
    task = MoleculeTask(data, "quick", {**TINY, "redraw_unseen_rings": True})
    expected = {kind for s in data for kind in ring_system_kinds(Chem.MolFromSmiles(s))}
    assert task.model.ring_systems == expected and "c1ccc2nccc2c1" in expected
    assert task.model.redraw_unseen_rings
    again = MoleculeTask.from_config(task.config())
    assert again.model.ring_systems == expected and again.model.redraw_unseen_rings
    old = task.config()  # a run from before the kinds were kept: nothing to look up, no redraw
    del old["ring_systems"], old["values"]["redraw_unseen_rings"]
    before = MoleculeTask.from_config(old).model
    assert before.ring_systems is None and not before.redraw_unseen_rings
    for bad in ("c1ccccc1", [1, 2]):
        with pytest.raises(BadInputError, match="ring_systems"):
            MoleculeTask.from_config({**task.config(), "ring_systems": bad})


def test_runs_from_before_the_classifier_steps_and_the_sampling_settings_reopen_as_they_were() -> None:
    from flowstudio.molecules.categorical_step import CategoricalSteps

    values = {**TINY, "categorical_steps": True, "bond_temperature": 0.5, "classifier_layers": 2}
    task = MoleculeTask(SMILES, "quick", values)
    assert isinstance(task.model.edge_flow, CategoricalSteps) and task.model.bond_temperature == 0.5
    again = MoleculeTask.from_config(task.config())
    assert isinstance(again.model.node_flow, CategoricalSteps) and again.model.bond_temperature == 0.5
    assert len(again.model.edge_flow.hidden) == 1 and again.model.redraw_cut and again.model.redraw_bondless
    old = task.config()
    del old["values"]["classifier_layers"], old["values"]["redraw_cut"], old["values"]["redraw_bondless"]
    before = MoleculeTask.from_config(old).model
    assert len(before.edge_flow.hidden) == 0 and not before.redraw_cut  # as they were made
    assert not before.redraw_bondless
    del old["values"]["categorical_steps"], old["values"]["bond_temperature"]
    restored = MoleculeTask.from_config(old)
    assert not isinstance(restored.model.edge_flow, CategoricalSteps)
    assert restored.model.bond_temperature == 1.0


def test_the_bond_temperature_cools_the_bond_steps_alone() -> None:
    from flowstudio.molecules.generate import generate

    model = MoleculeTask(SMILES, "quick", {**TINY, "categorical_steps": True}).model
    with torch.no_grad():  # arbitrary weights: atoms and bonds each have a likeliest class
        for p in model.parameters():
            p.copy_(torch.randn_like(p, generator=torch.Generator().manual_seed(p.numel())) * 0.3)

    def draw(ratio: float) -> tuple[list, list]:
        model.bond_temperature = ratio
        out = generate(model, 40, temperature=1.0, seed=3, check=False)
        return [a.tolist() for a in out.atoms], [b.tolist() for b in out.bonds]

    assert draw(1.0) == draw(1.0)
    atoms_warm, bonds_warm = draw(1.0)
    atoms_cold, bonds_cold = draw(0.0)
    # the first atom of each molecule is drawn before any bond step: the same at either ratio
    assert [a[:1] for a in atoms_warm] == [a[:1] for a in atoms_cold]
    assert bonds_warm != bonds_cold
    # at 0 each bond step takes its likeliest class: redrawing changes nothing
    model.bond_temperature = 0.0
    again = generate(model, 40, temperature=1.0, seed=3, check=False)
    assert [b.tolist() for b in again.bonds] == bonds_cold


def test_a_run_with_a_retired_end_variant_is_refused_naming_the_option() -> None:
    """The END step as a two-class flow is no longer built: a run that chose it
    (end_classifier=false), or predates the classifier, is refused; a classifier run and a
    run without an END step (the paper's END class) still open."""
    import pytest

    from flowstudio.errors import BadInputError

    config = MoleculeTask(SMILES, "quick", TINY).config()
    assert MoleculeTask.from_config(config).model.has_end_step
    flow = {**config, "values": {**config["values"], "end_classifier": False}}
    with pytest.raises(BadInputError, match="end_classifier=false"):
        MoleculeTask.from_config(flow)
    before_classifier = {k: v for k, v in config.items() if k != "end_decision"}
    with pytest.raises(BadInputError, match="end_classifier"):
        MoleculeTask.from_config(before_classifier)
    classifier_run = {**before_classifier, "values": {**config["values"], "end_classifier": True}}
    assert MoleculeTask.from_config(classifier_run).model.has_end_step
    paper = {**before_classifier, "values": {**config["values"], "end_step": False}}
    assert not MoleculeTask.from_config(paper).model.has_end_step


def test_snapshots_say_the_temperature_they_were_drawn_at() -> None:
    task = MoleculeTask(SMILES, "quick", {**TINY, "temperature": 0.6})
    drawn = task.snapshot(3)
    assert drawn.kind == "molecules" and drawn.temperature == 0.6 and len(drawn.smiles) == 3
    assert task.snapshot(2, temperature=1.2).temperature == 1.2


def test_validation_changes_nothing_and_the_calibration_is_a_final_stage() -> None:
    task = MoleculeTask(SMILES, "quick", {**TINY, "size_calibration": 40, "seed": 0})
    weights = {k: v.clone() for k, v in task.model.state_dict().items()}
    first = task.validation_metric()
    assert task.validation_metric() == first
    assert not task.model.end_offset.any()  # validation no longer calibrates
    for name, value in task.model.state_dict().items():
        assert torch.equal(value, weights[name])
    (stage,) = task.final_stages()
    assert stage.parameters() == [] and stage.step() is not None and task.model.end_offset.any()
    off = MoleculeTask(SMILES, "quick", {**TINY, "size_calibration": 0})
    assert off.final_stages() == []
