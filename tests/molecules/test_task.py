"""The GraphAF training task: repeatable initial weights and the engine's options."""

from __future__ import annotations

from dataclasses import fields

import torch

from flowstudio.molecules.task import ENGINE_OPTIONS, MoleculeTask
from flowstudio.training.options import TrainOptions

SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CCN(C)C", "OC(=O)c1ccccc1", "CCCl", "CC#N", "C1CCNCC1"]
TINY = {"hidden": 8, "rgcn_layers": 1, "flow_layers": 1, "st_hidden": 8, "validation_fraction": 0.25}


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
