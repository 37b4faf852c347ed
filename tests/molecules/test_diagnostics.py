"""GraphAF's invertibility diagnostics: a healthy model passes, corrupted ones are flagged."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from rdkit import Chem

from flowstudio.flows.diagnostics import LOG_DET_TOLERANCE, ROUND_TRIP_TOLERANCE
from flowstudio.molecules.diagnostics import diagnose
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.optimize import encodable
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize


@pytest.fixture
def model_and_mols() -> tuple[GraphAF, list[Chem.Mol]]:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    model = GraphAF(build_vocabulary(mols[:12]), TINY)  # some later molecules have other atoms
    _randomize(model)  # arbitrary weights: a trained model's are no easier
    return model, mols


def test_a_healthy_model_passes_every_check(model_and_mols) -> None:
    model, mols = model_and_mols
    report = diagnose(model, mols, n_molecules=len(mols), log_det_steps=4)
    assert report["healthy"], report["flags"]
    kept, refused = encodable(model, mols)
    assert report["data_molecules"] == len(kept) and report["data_skipped"] == len(refused) > 0
    for name in ("node_flow", "edge_flow"):
        section = report["flows"][name]
        assert section["round_trip_data"]["max"] < ROUND_TRIP_TOLERANCE
        assert section["log_det"]["max"] < LOG_DET_TOLERANCE and section["log_det"]["rows"] == 4
        assert section["lipschitz"]["forward"] > 0 and section["lipschitz"]["inverse"] > 0
        worst = section["round_trip_data"]["worst"][0]
        assert worst["error"] == section["round_trip_data"]["max"] and worst["step"].startswith(name[:4])
    assert report["graph_round_trip"]["data"] == {"molecules": len(kept), "failed": 0, "worst": []}
    assert report["sample_molecules"] > 0 and report["graph_round_trip"]["samples"]["failed"] == 0
    assert model.training and "at" not in vars(model.edge_flow)  # its mode restored, nothing left patched


def test_a_categorical_model_is_checked_by_its_graph_round_trip(model_and_mols) -> None:
    _, mols = model_and_mols
    model = GraphAF(build_vocabulary(mols[:12]), dataclasses.replace(TINY, categorical_steps=True))
    _randomize(model)
    report = diagnose(model, mols, n_molecules=len(mols), log_det_steps=4)
    assert report["healthy"], report["flags"]
    assert report["flows"] == {}  # classifiers: no Jacobian, no flow round trip
    assert report["graph_round_trip"]["data"]["molecules"] > 0
    assert report["graph_round_trip"]["data"]["failed"] == 0


def test_a_corrupted_shift_breaks_the_round_trips_and_is_flagged(model_and_mols) -> None:
    model, mols = model_and_mols
    with torch.no_grad():  # a huge shift swamps the input in float32: the inverse cannot recover it
        model.edge_flow.out_bias[:, model.edge_flow.features :] += 1e9
    report = diagnose(model, mols, n_molecules=8, log_det_steps=2)
    assert not report["healthy"]
    assert report["flows"]["edge_flow"]["round_trip_data"]["max"] > ROUND_TRIP_TOLERANCE
    assert any(flag.startswith("edge_flow: round trip") for flag in report["flags"])
    assert report["graph_round_trip"]["data"]["failed"] > 0
    assert any(flag.startswith("graph round trip on data") for flag in report["flags"])
    assert report["flows"]["node_flow"]["round_trip_data"]["max"] < ROUND_TRIP_TOLERANCE  # untouched


def test_a_non_finite_weight_is_flagged(model_and_mols) -> None:
    model, mols = model_and_mols
    with torch.no_grad():
        model.node_flow.out_weight[0, 0, 0] = float("nan")
    report = diagnose(model, mols, n_molecules=8, log_det_steps=2)
    assert not report["healthy"]
    assert any("node_flow" in flag and "non-finite" in flag for flag in report["flags"])
