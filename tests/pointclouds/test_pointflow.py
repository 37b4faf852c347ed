"""PointFlow: the encoder, the ELBO and its terms, RNODE, the task around it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flowstudio.errors import BadInputError
from flowstudio.flows.cnf_control import count_nfe
from flowstudio.pointclouds.encoder import PointNetEncoder
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.pointclouds.task import PointCloudTask
from flowstudio.training.stages import run_stage

from .conftest import OFFSET, TINY_POINTFLOW, trained_a_little


def test_encoder_is_order_invariant_and_shaped() -> None:
    encoder = PointNetEncoder(5, (8, 16), (8,)).eval()
    x = torch.randn(3, 40, 3)
    mu, logvar = encoder(x)
    assert mu.shape == logvar.shape == (3, 5)
    mu_perm, _ = encoder(x[:, torch.randperm(40)])
    torch.testing.assert_close(mu, mu_perm)
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        encoder(torch.randn(40, 3))


def test_entropy_of_a_diagonal_gaussian() -> None:
    logvar = torch.log(torch.tensor([[4.0, 0.25]]))
    expected = torch.distributions.Normal(0, torch.tensor([2.0, 0.5])).entropy().sum()
    torch.testing.assert_close(PointNetEncoder.entropy(logvar)[0], expected)


def test_elbo_terms_are_finite_and_reach_every_part(pointflow_task: PointCloudTask) -> None:
    model = pointflow_task.model
    assert isinstance(model, PointFlow)
    terms = pointflow_task.training_step(0)
    assert {"loss", "recon", "nll", "prior", "entropy", "kinetic", "jacobian"} <= set(terms)
    assert all(t.dim() == 0 and torch.isfinite(t) for t in terms.values())
    # nll is per point, recon per coordinate: the same quantity three times smaller
    torch.testing.assert_close(terms["nll"], 3 * terms["recon"])
    terms["loss"].backward()
    for part in (model.encoder, model.prior, model.decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    forward, backward = pointflow_task.nfe()
    assert forward > 0 and backward > 0


def test_validation_is_a_finite_repeatable_negative_elbo(pointflow_task: PointCloudTask) -> None:
    model = pointflow_task.model
    batch = pointflow_task.held_out()
    assert batch.shape == (1, 128, 3)  # one of six shapes held out
    with torch.no_grad():
        nelbo = model.negative_elbo(torch.cat([batch, batch]))
    assert nelbo.shape == (2,) and torch.isfinite(nelbo).all()
    metric = pointflow_task.validation_metric()
    assert np.isfinite(metric)
    assert metric == pointflow_task.validation_metric()  # fixed noise: repeatable


def test_rnode_regularization_enters_the_loss(shapes: np.ndarray) -> None:
    losses = {}
    for weight in (0.0, 10.0):
        torch.manual_seed(0)
        task = PointCloudTask(shapes, "pointflow", "quick",
                              {**TINY_POINTFLOW, "kinetic_weight": weight, "jacobian_weight": weight})
        torch.manual_seed(1)
        losses[weight] = task.training_step(0)
    assert losses[10.0]["kinetic"] > 0
    assert losses[10.0]["loss"] > losses[0.0]["loss"]
    torch.testing.assert_close(losses[10.0]["recon"], losses[0.0]["recon"])


def test_a_few_steps_lower_the_loss(pointflow_task: PointCloudTask) -> None:
    optimizer = torch.optim.Adam(pointflow_task.model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    first = pointflow_task.training_step(0)["loss"].item()
    for step in range(15):
        optimizer.zero_grad()
        pointflow_task.training_step(step)["loss"].backward()
        optimizer.step()
    torch.manual_seed(0)
    assert pointflow_task.training_step(0)["loss"].item() < first


def test_config_round_trip_rebuilds_the_same_model(pointflow_task: PointCloudTask) -> None:
    config = json.loads(json.dumps(pointflow_task.config()))
    clone = PointCloudTask.from_config(config)
    clone.model.load_state_dict(pointflow_task.model.state_dict())
    pointflow_task.model.eval()
    clone.model.eval()
    torch.manual_seed(3)
    a = pointflow_task.snapshot(2).points
    torch.manual_seed(3)
    b = clone.snapshot(2).points
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    assert a.shape == (2, TINY_POINTFLOW["snapshot_points"], 3)
    # the snapshot is in the data's frame, far from the origin
    assert np.abs(a.reshape(-1, 3).mean(0) - OFFSET).max() < 5.0


def test_a_task_opened_without_data_refuses_to_train(pointflow_task: PointCloudTask) -> None:
    clone = PointCloudTask.from_config(pointflow_task.config())
    with pytest.raises(BadInputError, match="without its data"):
        clone.training_step(0)


def test_bad_configs_are_bad_input() -> None:
    with pytest.raises(BadInputError):
        PointCloudTask.from_config({"model_name": "pointflow"})
    with pytest.raises(BadInputError, match="unknown point-cloud model"):
        PointCloudTask(np.zeros((2, 16, 3)), "transformer")


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_prior_refinement_fits_the_prior_alone(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "prior_refine_s": 0.5})
    model = task.model
    assert isinstance(model, PointFlow)
    train = task.dataset.train
    torch.manual_seed(0)
    with torch.no_grad():
        mu, logvar = model.encoder.eval()(train)
        z = mu + (0.5 * logvar).exp() * torch.randn(64, *mu.shape)
    model.train()

    def prior_nll() -> float:
        with torch.no_grad():
            return float(-model.latent_log_prob(z.flatten(0, 1)).mean())

    parts = {"e": model.encoder, "d": model.decoder, "p": model.prior}
    before = {name: _flat(part) for name, part in parts.items()}
    nll_before = prior_nll()
    stages = task.final_stages()
    assert len(stages) == 1
    lines = list(run_stage(stages[0]))
    assert len(lines) == 2 and "refined" in lines[1]
    assert int(lines[1].split(": ")[1].split(" steps")[0]) > 5
    assert torch.equal(_flat(model.encoder), before["e"]) and torch.equal(_flat(model.decoder), before["d"])
    assert not torch.equal(_flat(model.prior), before["p"])
    assert prior_nll() < nll_before  # the posteriors it was fitted to are likelier now

    # a stop request ends it at once; off (0 s) or without a prior flow it does nothing
    after = _flat(model.prior)
    assert list(run_stage(task.final_stages()[0], lambda: True))[-1] == (
        "latent prior not refined: stopped before its first step"  # not "nan -> nan"
    )
    assert torch.equal(_flat(model.prior), after)
    off = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "prior_refine_s": 0.0})
    assert off.final_stages() == []


def test_the_engine_refines_the_prior_when_the_budget_is_spent(shapes: np.ndarray, tmp_path) -> None:
    from flowstudio.training import Message, TrainOptions, read_metrics, train

    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "prior_refine_s": 0.3})
    options = TrainOptions(iters=4, device="cpu", log_every=2, validate_every=4, samples_n=0)
    events = list(train(task, tmp_path / "run", options))
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any("latent prior refined" in t for t in texts)
    # validated at step 4 by the schedule, then once more after the refinement
    assert [m["step"] for m in read_metrics(tmp_path / "run") if "validation" in m] == [4, 4]


def test_flow_matching_terms_reach_every_part_without_a_point_solve(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "flow_matching"})
    model = task.model
    assert isinstance(model, PointFlow)
    terms = task.training_step(0)
    assert {"loss", "matching", "prior", "entropy"} <= set(terms) and "recon" not in terms
    assert all(t.dim() == 0 and torch.isfinite(t) for t in terms.values())
    terms["loss"].backward()
    for part in (model.encoder, model.prior, model.decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    assert count_nfe(model.decoder) == (0, 0)  # one network evaluation, no ODE solve
    assert not model.decoder.transform.transforms[0].raw_end_time.requires_grad  # T stays fixed


def test_flow_matching_lowers_its_loss_and_the_held_out_elbo(shapes: np.ndarray) -> None:
    torch.manual_seed(0)
    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "flow_matching"})

    def matching_loss() -> float:  # on the same ten batches, paths and times each time
        torch.manual_seed(0)
        return sum(float(task.training_step(0)["matching"]) for _ in range(10)) / 10

    before, before_nll = matching_loss(), task.validation_metric()
    trained_a_little(task, steps=150)
    assert matching_loss() < 0.85 * before
    assert task.validation_metric() < before_nll - 0.5  # the same held-out -ELBO as likelihood runs


def test_flow_matching_refuses_what_has_no_straight_path(shapes: np.ndarray) -> None:
    matching = {**TINY_POINTFLOW, "objective": "flow_matching"}
    for extra in ({"blocks": 2}, {"batch_norm": True}):
        with pytest.raises(BadInputError, match="one CNF block"):
            PointCloudTask(shapes, "pointflow", "quick", {**matching, **extra})
    with pytest.raises(BadInputError, match="objective"):
        PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "score"})


def test_runs_from_before_the_objective_reopen_as_likelihood_runs(shapes: np.ndarray) -> None:
    task = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "likelihood"})
    config = json.loads(json.dumps(task.config()))
    del config["values"]["objective"]
    assert PointCloudTask.from_config(config).values["objective"] == "likelihood"


def test_latent_temperature_scales_the_prior_draws_and_old_runs_keep_one(shapes: np.ndarray) -> None:
    wide = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "latent_temperature": 1.5})
    plain = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "latent_temperature": 1.0})
    plain.model.load_state_dict(wide.model.state_dict())
    draws = {}
    for name, task, temperature in [("wide", wide, 1.0), ("plain at 1.5", plain, 1.5), ("plain", plain, 1.0)]:
        torch.manual_seed(3)
        draws[name] = task.model.sample_latent(6, temperature)
    torch.testing.assert_close(draws["wide"], draws["plain at 1.5"])
    assert not torch.allclose(draws["wide"], draws["plain"])
    # A run saved before the setting existed drew its latents at the prior's own spread,
    # whatever the quick preset (flow matching) says today.
    quick = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "flow_matching"})
    assert quick.values["latent_temperature"] != 1.0
    config = json.loads(json.dumps(quick.config()))
    del config["values"]["latent_temperature"]
    assert PointCloudTask.from_config(config).model.config.latent_temperature == 1.0


def test_point_temperature_scales_every_draws_point_noise_and_old_runs_keep_one(shapes: np.ndarray) -> None:
    from flowstudio.pointclouds import analyses

    cool = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "point_temperature": 0.5})
    plain = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "point_temperature": 1.0})
    plain.model.load_state_dict(cool.model.state_dict())
    latent = torch.randn(2, cool.model.latent_dim)
    torch.manual_seed(5)
    drawn = cool.model.sample_points(2, 64, latent=latent)
    torch.manual_seed(5)
    given = plain.model.sample_points(2, 64, latent=latent, noise=0.5 * torch.randn(2, 64, 3))
    torch.testing.assert_close(drawn, given)
    # The analyses that draw their own noise use the same factor: the trajectory starts at
    # noise of half the spread.
    starts = {name: analyses.trajectory(task, p=2000, times=2, seed=1)[0] for name, task in
              [("cool", cool), ("plain", plain)]}
    ratio = starts["cool"].std(0) / starts["plain"].std(0)
    np.testing.assert_allclose(ratio, 0.5, rtol=1e-4)
    # A run saved before the setting existed drew its points at the base spread.
    config = json.loads(json.dumps(cool.config()))
    del config["values"]["point_temperature"]
    assert PointCloudTask.from_config(config).model.point_temperature == 1.0


def test_prior_every_fits_the_latent_cnf_every_kth_step_k_times_as_hard(shapes: np.ndarray) -> None:
    matching = {**TINY_POINTFLOW, "objective": "flow_matching"}
    every = {k: PointCloudTask(shapes, "pointflow", "quick", {**matching, "prior_every": k}) for k in (1, 3)}
    every[3].model.load_state_dict(every[1].model.state_dict())

    def grads(task: PointCloudTask, step: int) -> tuple[dict[str, torch.Tensor], dict[str, list]]:
        torch.manual_seed(7)  # the same batch, paths and latent draw for both
        task.model.zero_grad(set_to_none=True)
        terms = task.training_step(step)
        terms["loss"].backward()
        return terms, {name: [p.grad for p in getattr(task.model, name).parameters()]
                       for name in ("encoder", "prior", "decoder")}

    # On a due step the latent CNF's terms count three times: its gradient is 3x.
    (one, g1), (three, g3) = grads(every[1], 3), grads(every[3], 3)
    torch.testing.assert_close(three["prior"], one["prior"])
    for a, b in zip(g1["prior"], g3["prior"], strict=True):
        torch.testing.assert_close(3 * a, b)
    # Between due steps the latent CNF is not evaluated; the encoder and decoder still learn.
    terms, g = grads(every[3], 4)
    assert {"prior", "kinetic", "jacobian"}.isdisjoint(terms) and {"matching", "entropy"} <= set(terms)
    assert all(grad is None for grad in g["prior"])
    assert all(any(p is not None and p.abs().sum() > 0 for p in g[name]) for name in ("encoder", "decoder"))
    with pytest.raises(BadInputError, match="prior_every needs objective=flow_matching"):
        PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "prior_every": 2})
    # A run saved before the setting existed fitted its latent CNF every step.
    config = json.loads(json.dumps(every[3].config()))
    del config["values"]["prior_every"]
    assert PointCloudTask.from_config(config).model.config.prior_every == 1


def test_point_steps_sets_the_point_cnfs_steps_alone_and_old_runs_keep_steps(shapes: np.ndarray) -> None:
    from flowstudio.flows.matching import only_cnf
    from flowstudio.pointclouds import analyses

    matching = {**TINY_POINTFLOW, "objective": "flow_matching", "solver": "rk4", "steps": 2}
    fine = PointCloudTask(shapes, "pointflow", "quick", {**matching, "point_steps": 3})
    plain = PointCloudTask(shapes, "pointflow", "quick", {**matching, "point_steps": 0})
    with torch.no_grad():  # a curved field, on which the number of steps shows
        for p in fine.model.decoder.parameters():
            p.normal_(0.0, 1.0)
    plain.model.load_state_dict(fine.model.state_dict())
    assert only_cnf(fine.model.decoder).steps == 3 and only_cnf(plain.model.decoder).steps == 2
    assert only_cnf(fine.model.prior).steps == only_cnf(plain.model.prior).steps == 2
    # Drawing with the setting is drawing with RK4 in 3 steps asked for at sampling time.
    latent = torch.randn(3, fine.model.latent_dim)
    drawn = analyses.sample(fine, 3, 64, seed=2, latent=latent)
    asked = analyses.sample(plain, 3, 64, seed=2, latent=latent, solver="rk4", steps=3)
    np.testing.assert_allclose(drawn, asked, rtol=1e-5, atol=1e-6)
    assert np.abs(drawn - analyses.sample(plain, 3, 64, seed=2, latent=latent)).max() > 1e-3
    # The quick preset sets it; a run saved before the setting existed solved both CNFs in `steps`.
    quick = PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": "flow_matching"})
    assert quick.values["point_steps"] not in (0, quick.values["steps"])
    config = json.loads(json.dumps(quick.config()))
    del config["values"]["point_steps"]
    reopened = PointCloudTask.from_config(config).model
    assert only_cnf(reopened.decoder).steps == quick.values["steps"]


def test_point_step_power_places_the_point_cnfs_steps_alone_and_old_runs_keep_even_steps(
    shapes: np.ndarray,
) -> None:
    from flowstudio.flows.cnf_control import solver_override
    from flowstudio.flows.matching import only_cnf
    from flowstudio.pointclouds import analyses

    matching = {**TINY_POINTFLOW, "objective": "flow_matching", "solver": "rk4", "steps": 3}
    crowded = PointCloudTask(shapes, "pointflow", "quick", {**matching, "point_step_power": 2.0})
    even = PointCloudTask(shapes, "pointflow", "quick", matching)
    with torch.no_grad():  # a curved field, on which the grid shows
        for p in crowded.model.decoder.parameters():
            p.normal_(0.0, 1.0)
    even.model.load_state_dict(crowded.model.state_dict())
    assert only_cnf(crowded.model.decoder).step_power == 2.0
    assert only_cnf(even.model.decoder).step_power == 1.0
    assert only_cnf(crowded.model.prior).step_power == 1.0  # the latent CNF keeps even steps
    latent = torch.randn(3, crowded.model.latent_dim)
    drawn = analyses.sample(crowded, 3, 64, seed=2, latent=latent)
    with solver_override(even.model.point_flow, step_power=2.0):
        asked = analyses.sample(even, 3, 64, seed=2, latent=latent)
    np.testing.assert_allclose(drawn, asked, rtol=1e-5, atol=1e-6)
    assert np.abs(drawn - analyses.sample(even, 3, 64, seed=2, latent=latent)).max() > 1e-3
    config = json.loads(json.dumps(crowded.config()))
    del config["values"]["point_step_power"]
    assert only_cnf(PointCloudTask.from_config(config).model.decoder).step_power == 1.0
    with pytest.raises(BadInputError, match="point_step_power"):
        PointCloudTask(shapes, "pointflow", "quick", {**matching, "point_step_power": 0.5})
