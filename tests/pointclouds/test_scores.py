"""Shape scores and invertibility diagnostics of point-cloud models (tiny tasks, a few steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows.diagnostics import ROUND_TRIP_TOLERANCE
from flowstudio.pointclouds.diagnostics import diagnose
from flowstudio.pointclouds.scores import SCORES, score_shapes
from flowstudio.pointclouds.task import PointCloudTask
from tests.pointclouds.conftest import OFFSET, TINY_CNF, squashed_spheres, trained_a_little


def _far_blobs(n: int, p: int) -> np.ndarray:
    """Gaussian blobs five times wider than the training shapes, around the same centre."""
    return (np.random.default_rng(7).normal(size=(n, p, 3)) * 5.0 + OFFSET).astype(np.float32)


@pytest.mark.parametrize("model", ["pointflow", "realnvp"])
def test_scores_rank_out_of_distribution_shapes_lower(model: str, pointflow_task, shapes) -> None:
    task = pointflow_task if model == "pointflow" else PointCloudTask(
        shapes, "realnvp", "quick", {"train_points": 64, "batch_size": 2, "flow_layers": 2, "flow_hidden": 16}
    )
    trained_a_little(task, 5).model.eval()
    inside = score_shapes(task, shapes[:4], ["a", "b", "c", "d"], seed=0)
    outside = score_shapes(task, _far_blobs(4, 128), reference=inside.reference, seed=0)
    assert list(inside.columns) == list(SCORES)
    assert inside.point_ll.shape == (4, 128)
    assert [row["name"] for row in inside.rows()] == ["a", "b", "c", "d"]
    for score in ("mean_point_ll", "shape_ll_per_point"):
        assert inside.columns[score].min() > outside.columns[score].max(), score
    if model == "pointflow":
        assert np.isfinite(inside.columns["latent_ll"]).all()
    else:  # no shape latent: undefined, written as an empty cell
        assert all(row["latent_ll"] is None for row in inside.rows())
    ranking = inside.ranking("mean_point_ll")
    assert inside.columns["mean_point_ll"][ranking].tolist() == sorted(inside.columns["mean_point_ll"])


def test_bad_shapes_are_refused(cnf_task) -> None:
    with pytest.raises(BadInputError):
        score_shapes(cnf_task, np.zeros((2, 5, 2)))
    with pytest.raises(BadInputError):
        score_shapes(cnf_task, np.full((1, 5, 3), np.nan))


def test_diagnose_judges_a_cnf_with_the_accurate_solver_and_reports_its_sampler_apart() -> None:
    shapes = squashed_spheres(4, 96)
    coarse = {**TINY_CNF, "solver": "euler", "steps": 1}  # a fast sampler, far from exact
    task = trained_a_little(PointCloudTask(shapes, "cnf", "quick", coarse), 3)
    task.model.eval()
    report = diagnose(task, shapes, n_shapes=2, n_points=64, log_det_rows=3)
    assert report["healthy"], report["flags"]
    assert report["judged_with"]["solver"] == "dopri5"
    section = report["flows"]["point_flow"]
    assert set(section) == {"round_trip_data", "round_trip_samples", "log_det", "lipschitz"}
    assert section["round_trip_data"]["max"] < ROUND_TRIP_TOLERANCE
    worst = section["round_trip_data"]["worst"]
    assert len(worst) == 5 and {w["name"] for w in worst} <= {"shape_000", "shape_001"}
    assert worst[0]["error"] == section["round_trip_data"]["max"]
    sampler = report["sampler"]
    assert sampler["settings"] == {"solver": "euler", "steps": 1}
    # what judging with the run's own sampler flagged: its round trip alone is far off
    assert sampler["round_trip_data"]["max"] > ROUND_TRIP_TOLERANCE
    assert sampler["round_trip_samples"]["max"] > ROUND_TRIP_TOLERANCE
    assert "not judged" in sampler["meaning"]
    fine = diagnose(task, shapes, n_shapes=2, n_points=64, log_det_rows=3, sampler=("rk4", 16))
    assert fine["sampler"]["settings"] == {"solver": "rk4", "steps": 16}
    assert fine["sampler"]["round_trip_data"]["max"] < sampler["round_trip_data"]["max"] / 10
    assert [b.solver for b in task.model.flow.transform] == ["euler"]  # the run's own is restored


def test_diagnose_flags_a_cnf_with_a_corrupted_weight() -> None:
    shapes = squashed_spheres(4, 96)
    task = trained_a_little(PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "solver": "rk4"}), 3)
    task.model.eval()
    with torch.no_grad():
        next(task.model.flow.parameters()).view(-1)[0] = float("nan")
    report = diagnose(task, shapes, n_shapes=2, n_points=64, log_det_rows=3)
    assert not report["healthy"]
    assert report["flags"][0].startswith("point_flow: could not be evaluated")
    assert report["sampler"] is None


def test_diagnose_covers_pointflow_latent_prior(pointflow_task) -> None:
    trained_a_little(pointflow_task, 2).model.eval()
    report = diagnose(pointflow_task, n_shapes=2, n_points=32, log_det_rows=2)
    assert set(report["flows"]) == {"point_flow", "latent_prior"}
    assert report["data_shapes"] >= 1  # the run's held-out shapes
    assert report["flows"]["latent_prior"]["lipschitz"]["inverse"] > 0
