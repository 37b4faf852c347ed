"""Single-shape densities (CNF and the discrete families), their trajectories and the settings."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.models import DISCRETE_MODELS, SingleShapeModel
from flowstudio.pointclouds.settings import BY_NAME, ENGINE_OPTIONS, HYPERPARAMETERS, hyperparameters, resolve
from flowstudio.pointclouds.task import PointCloudTask
from flowstudio.training.options import TrainOptions

from .conftest import OFFSET, TINY_CNF

TINY_DISCRETE = {"flow_layers": 2, "flow_hidden": 8, "train_points": 64, "snapshot_points": 16}


@pytest.mark.parametrize("name", DISCRETE_MODELS)
def test_each_discrete_family_trains_and_samples(name: str, shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, name, "quick", TINY_DISCRETE)
    optimizer = torch.optim.Adam(task.model.parameters(), lr=3e-3)

    def train(steps: int) -> None:
        task.model.train()
        for step in range(steps):
            optimizer.zero_grad()
            terms = task.training_step(step)
            assert torch.isfinite(terms["loss"])
            terms["loss"].backward()
            optimizer.step()
        task.model.eval()

    train(1)  # data-dependent initializations (Glow's ActNorm) happen on training data
    before = task.validation_metric()
    train(15)
    assert task.nfe() == (None, None)
    assert task.validation_metric() < before
    samples = task.snapshot(2).points
    assert samples.shape == (2, 16, 3) and np.isfinite(samples).all()


def test_the_single_shape_cnf_learns_its_shape(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "test_fraction": 0.5})
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-2)
    before = task.validation_metric()
    for step in range(20):
        optimizer.zero_grad()
        task.training_step(step)["loss"].backward()
        optimizer.step()
    forward, backward = task.nfe()
    assert forward == backward >= 2  # one euler evaluation a step; T is learned, so >= 2 steps
    task.model.eval()
    assert task.validation_metric() < before - 0.1
    samples = task.snapshot(3).points
    assert samples.shape == (3, TINY_CNF["snapshot_points"], 3)
    assert np.abs(samples.reshape(-1, 3).mean(0) - OFFSET).max() < 2.0


def test_single_shape_holds_out_points_of_the_chosen_shape(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "shape_index": 3, "test_fraction": 0.25})
    held_out = task.held_out()
    assert held_out.shape == (32, 3)  # a quarter of 128 points
    back = task.to_data_frame(held_out.numpy())
    distances = np.linalg.norm(back[:, None] - shapes[3][None], axis=-1).min(1)
    assert distances.max() < 1e-4
    with pytest.raises(BadInputError, match="shape_index"):
        PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "shape_index": 6})


@pytest.mark.parametrize("name", ["cnf", "realnvp"])
def test_trajectory_runs_from_the_noise_to_the_sample(name: str) -> None:
    options = {"hidden": (8,), "solver": "rk4", "step_size": 0.25} if name == "cnf" else {"num_layers": 2}
    model = SingleShapeModel(name, **options).eval()
    noise = torch.randn(2, 10, 3)
    frames = model.trajectory(noise, [0.0, 0.5, 1.0])
    assert frames.shape == (3, 2, 10, 3)
    torch.testing.assert_close(frames[0], noise)
    torch.testing.assert_close(frames[-1], model.sample_points(2, 10, noise=noise), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="increase"):
        model.trajectory(noise, [0.5, 0.2])


def test_every_engine_option_has_a_param() -> None:
    fields = {f.name for f in dataclasses.fields(TrainOptions)} - {"resume"}
    assert fields == set(ENGINE_OPTIONS)
    defaults = TrainOptions()
    for name in fields:
        engine_default = getattr(defaults, name)
        if engine_default is not None and name != "lr":  # lr: each preset sets its own
            assert BY_NAME[name].default == engine_default, name


def test_params_have_tooltips_and_validate() -> None:
    assert all(p.help and len(p.help) > 15 for p in HYPERPARAMETERS)
    assert len({p.name for p in HYPERPARAMETERS}) == len(HYPERPARAMETERS)
    names = {p.name for p in hyperparameters("cnf")}
    assert "latent_dim" not in names and "solver" in names and "flow_layers" not in names
    assert "latent_dim" in {p.name for p in hyperparameters("pointflow")}
    assert "solver" not in {p.name for p in hyperparameters("maf")}
    assert resolve("cnf", "quick", {"steps": "3"})["steps"] == 3
    with pytest.raises(BadInputError, match="steps"):
        resolve("cnf", "quick", {"steps": 0})
    with pytest.raises(BadInputError, match="unknown hyperparameter"):
        resolve("cnf", "quick", {"stepz": 3})
    with pytest.raises(BadInputError, match="preset"):
        resolve("cnf", "medium")


def test_full_preset_uses_the_papers_sizes() -> None:
    for objective in ("flow_matching", "likelihood"):
        values = resolve("pointflow", "full", {"objective": objective})
        assert values["latent_dim"] == 128 and values["point_hidden"] == "512-512-512"
        assert values["batch_size"] == 128 and values["train_points"] == 2048
    likelihood = resolve("pointflow", "full", {"objective": "likelihood"})  # the paper's recipe
    assert likelihood["solver"] == "dopri5" and likelihood["atol"] == likelihood["rtol"] == 1e-5
    assert likelihood["batch_norm"] and likelihood["adjoint"]
    assert resolve("pointflow", "full")["objective"] == "flow_matching"
    assert not resolve("pointflow", "full")["batch_norm"]  # flow matching trains one CNF block
    quick = resolve("pointflow", "quick", {"objective": "likelihood"})
    assert quick["kinetic_weight"] > 0 and quick["jacobian_weight"] > 0 and quick["trace"] == "hutchinson"


def test_initial_weights_depend_on_the_seed_alone(shapes: np.ndarray) -> None:
    def weights(seed: int, global_seed: int) -> torch.Tensor:
        torch.manual_seed(global_seed)  # the state of the global generator must not matter
        task = PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "seed": seed})
        return torch.cat([p.detach().flatten() for p in task.model.parameters()])

    torch.testing.assert_close(weights(0, global_seed=1), weights(0, global_seed=2))
    assert not torch.equal(weights(0, global_seed=1), weights(1, global_seed=1))


def test_fixed_step_models_are_validated_with_the_accurate_solver(
    cnf_task: PointCloudTask, pointflow_task: PointCloudTask
) -> None:
    """A coarse Euler solve is only an estimate of the continuous model's density: the
    validation metric (which picks best.pt) is the accurate dopri5 score, and the model's
    own solver settings are back in place afterwards."""
    import torch

    from flowstudio.flows.cnf import CNF
    from flowstudio.flows.cnf_control import ACCURATE, solver_override

    for task in (cnf_task, pointflow_task):
        with torch.no_grad():  # make the field strong enough for Euler's error to show
            for p in task.model.parameters():
                p.mul_(4.0)
        task.model.eval()
        coarse = task._held_out_nll()
        with solver_override(task.model, **ACCURATE):
            accurate = task._held_out_nll()
        assert task.validation_metric() == pytest.approx(accurate, rel=1e-6)
        assert abs(accurate - coarse) > 1e-3
        cnfs = [m for m in task.model.modules() if isinstance(m, CNF)]
        assert cnfs and all(c.solver == "euler" and c.steps == 2 for c in cnfs)


def test_the_single_shape_cnfs_flow_matching_recipe_crowds_its_steps_toward_the_data() -> None:
    own = resolve("cnf", "quick")
    assert own["objective"] == "likelihood" and own["point_step_power"] == 1.0  # trained through its steps
    matching = resolve("cnf", "quick", {"objective": "flow_matching"})
    assert matching["point_step_power"] == 2.0 and matching["steps"] == 8 != own["steps"]
    chosen = resolve("cnf", "quick", {"objective": "flow_matching", "point_step_power": 1.0})
    assert chosen["point_step_power"] == 1.0  # the user's value wins


def test_single_shape_runs_from_before_the_step_power_keep_even_steps(shapes) -> None:
    from flowstudio.flows.matching import only_cnf

    task = PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "objective": "flow_matching"})
    assert only_cnf(task.model.flow).step_power == 2.0  # today's recipe
    config = json.loads(json.dumps(task.config()))
    del config["values"]["point_step_power"]
    assert only_cnf(PointCloudTask.from_config(config).model.flow).step_power == 1.0
