"""The analyses the window draws: shapes, finiteness, the data's frame, densities that integrate."""

from __future__ import annotations

import numpy as np
import pytest

from flowstudio.errors import BadInputError
from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.task import PointCloudTask

from .conftest import OFFSET, TINY_CNF, TINY_POINTFLOW, trained_a_little

# Every analysis works for both objectives: these override the likelihood-only fixtures.


@pytest.fixture(params=["likelihood", "flow_matching"])
def pointflow_task(request: pytest.FixtureRequest, shapes: np.ndarray) -> PointCloudTask:
    return trained_a_little(
        PointCloudTask(shapes, "pointflow", "quick", {**TINY_POINTFLOW, "objective": request.param})
    )


@pytest.fixture(params=["likelihood", "flow_matching"])
def cnf_task(request: pytest.FixtureRequest, shapes: np.ndarray) -> PointCloudTask:
    return trained_a_little(PointCloudTask(shapes, "cnf", "quick", {**TINY_CNF, "objective": request.param}))


def test_sample_is_in_the_data_frame_and_repeatable(pointflow_task: PointCloudTask) -> None:
    a = analyses.sample(pointflow_task, 3, 20, seed=5)
    assert a.shape == (3, 20, 3) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, analyses.sample(pointflow_task, 3, 20, seed=5))
    assert np.abs(a.reshape(-1, 3).mean(0) - OFFSET).max() < 3.0
    cold = analyses.sample(pointflow_task, 3, 20, temperature=0.0, seed=5)
    assert cold.reshape(-1, 3).std(0).max() < a.reshape(-1, 3).std(0).max()


def test_sampling_in_chunks_gives_each_shape_its_own_latent(
    pointflow_task: PointCloudTask, shapes: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At temperature 0 sampling is deterministic given the latents, so chunks of 8 points
    (several per shape, several shapes) must put together exactly the one-chunk result."""
    latents = analyses.encode(pointflow_task, shapes[:3])
    whole = analyses.sample(pointflow_task, 3, 20, temperature=0.0, latent=latents)
    monkeypatch.setattr(analyses, "SAMPLE_CHUNK_POINTS", 8)
    chunked = analyses.sample(pointflow_task, 3, 20, temperature=0.0, latent=latents)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    assert not np.allclose(whole[0], whole[1])  # the shapes really differ
    monkeypatch.setattr(analyses, "SAMPLE_CHUNK_POINTS", 50)  # several whole shapes per chunk
    np.testing.assert_allclose(
        analyses.sample(pointflow_task, 3, 20, temperature=0.0, latent=latents), whole, rtol=1e-5, atol=1e-5
    )


def test_prior_latents_are_drawn_in_chunks(
    pointflow_task: PointCloudTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analyses, "LATENT_CHUNK", 2)
    a = analyses.sample(pointflow_task, 5, 16, seed=4)
    assert a.shape == (5, 16, 3) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, analyses.sample(pointflow_task, 5, 16, seed=4))
    assert not np.allclose(a[0], a[2])  # every chunk draws its own latents


def test_huge_sampling_requests_are_refused_before_any_work(pointflow_task: PointCloudTask) -> None:
    with pytest.raises(BadInputError, match="more than the"):
        analyses.sample(pointflow_task, 100_000, 100_000)
    with pytest.raises(BadInputError, match="2 shape latents for 3 shapes"):
        analyses.sample(pointflow_task, 3, 10, latent=np.zeros((2, 4), np.float32))


def test_reconstruct_and_encode(pointflow_task: PointCloudTask, shapes: np.ndarray) -> None:
    z = analyses.encode(pointflow_task, shapes[0])
    assert z.shape == (4,) and np.isfinite(z).all()
    assert analyses.encode(pointflow_task, shapes[:2]).shape == (2, 4)
    rec = analyses.reconstruct(pointflow_task, shapes[0], p=50, seed=0)
    assert rec.shape == (50, 3) and np.isfinite(rec).all()
    assert np.abs(rec.mean(0) - OFFSET).max() < 3.0


def test_interpolation_endpoints_decode_the_encoder_means(
    pointflow_task: PointCloudTask, shapes: np.ndarray
) -> None:
    path = analyses.interpolate(pointflow_task, shapes[0], shapes[1], steps=4, p=30, seed=2)
    assert path.shape == (4, 30, 3) and np.isfinite(path).all()
    for end, shape in ((0, shapes[0]), (-1, shapes[1])):
        z = analyses.encode(pointflow_task, shape)
        decoded = analyses.sample(pointflow_task, 1, 30, seed=2, latent=z)[0]
        np.testing.assert_allclose(path[end], decoded, rtol=1e-4, atol=1e-3)
    # shared noise: consecutive steps move each point a little, not reshuffle them
    step = np.linalg.norm(path[1] - path[0], axis=-1).mean()
    assert step < np.linalg.norm(path[0] - path[0][::-1], axis=-1).mean()


def test_point_log_likelihood_shapes(cnf_task: PointCloudTask, pointflow_task: PointCloudTask,
                                     shapes: np.ndarray) -> None:
    for task in (cnf_task, pointflow_task):
        one = analyses.point_log_likelihood(task, shapes[0])
        assert one.shape == (128,) and np.isfinite(one).all()
        batch = analyses.point_log_likelihood(task, shapes[:2])
        assert batch.shape == (2, 128)
    z = analyses.encode(pointflow_task, shapes[1])
    assert analyses.point_log_likelihood(pointflow_task, shapes[0], latent=z).shape == (128,)


def test_density_slice_integrates_to_at_most_one_and_peaks_near_the_data(cnf_task: PointCloudTask) -> None:
    coords, logp = analyses.density_slice(cnf_task, "z", offset=float(OFFSET[2]), resolution=40)
    assert coords.shape == (40, 40, 3) and logp.shape == (40, 40) and np.isfinite(logp).all()
    np.testing.assert_allclose(coords[..., 2], OFFSET[2], atol=1e-4)
    peak = coords.reshape(-1, 3)[np.argmax(logp)]
    assert np.linalg.norm(peak[:2] - OFFSET[:2]) < 1.5
    cell = np.prod(np.abs(coords[1, 1, :2] - coords[0, 0, :2]))
    mass = float(np.exp(logp).sum() * cell)  # density of the (x, y) plane at z: finite, positive
    assert 0 < mass < np.inf


def test_density_is_normalized_in_the_data_frame(cnf_task: PointCloudTask) -> None:
    """Stacking slices gives a 3-D Riemann sum of p over a box around the data: about 1,
    which holds only if the normalization's Jacobian is accounted for."""
    scale = cnf_task.normalization.scale
    offsets = np.linspace(-4, 4, 25) * scale + OFFSET[2]
    total = 0.0
    for z in offsets:
        coords, logp = analyses.density_slice(cnf_task, "z", offset=float(z), resolution=25, extent=4 * scale)
        cell = np.prod(np.abs(coords[1, 1, :2] - coords[0, 0, :2])) * (offsets[1] - offsets[0])
        total += float(np.exp(logp).sum() * cell)
    assert 0.8 < total < 1.1


def test_density_slice_takes_any_normal(pointflow_task: PointCloudTask) -> None:
    coords, logp = analyses.density_slice(pointflow_task, (1.0, 1.0, 0.0), offset=0.0, resolution=8)
    normal = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    np.testing.assert_allclose(coords.reshape(-1, 3) @ normal, 0.0, atol=1e-3)
    assert np.isfinite(logp).all()
    with pytest.raises(BadInputError):
        analyses.density_slice(pointflow_task, "w")
    with pytest.raises(BadInputError):
        analyses.density_slice(pointflow_task, (0.0, 0.0, 0.0))


def test_trajectory_goes_from_noise_to_a_sample(
    cnf_task: PointCloudTask, pointflow_task: PointCloudTask
) -> None:
    for task in (cnf_task, pointflow_task):
        frames = analyses.trajectory(task, p=25, times=5, seed=3)
        assert frames.shape == (5, 25, 3) and np.isfinite(frames).all()
    frames = analyses.trajectory(cnf_task, p=25, times=5, seed=3)
    np.testing.assert_allclose(frames[-1], analyses.sample(cnf_task, 1, 25, seed=3)[0], rtol=1e-4, atol=1e-3)


def test_single_shape_models_refuse_latent_analyses(cnf_task: PointCloudTask, shapes: np.ndarray) -> None:
    with pytest.raises(BadInputError, match="shape latent"):
        analyses.reconstruct(cnf_task, shapes[0])
    with pytest.raises(BadInputError, match="shape latent"):
        analyses.interpolate(cnf_task, shapes[0], shapes[1])
    with pytest.raises(BadInputError, match="points"):
        analyses.point_log_likelihood(cnf_task, np.zeros((4, 2)))


def test_sampling_solver_and_steps_are_chosen_per_call(pointflow_task: PointCloudTask) -> None:
    """Few fixed steps approach the accurate adaptive solve as their number grows."""
    own = analyses.sample(pointflow_task, 2, 30, seed=1)
    accurate = analyses.sample(pointflow_task, 2, 30, seed=1, solver="dopri5")
    errors = []
    for steps in (1, 4, 32):
        euler = analyses.sample(pointflow_task, 2, 30, seed=1, solver="euler", steps=steps)
        errors.append(float(np.abs(euler - accurate).mean()))
    assert errors[2] < errors[1] < errors[0], errors
    assert not np.allclose(own, accurate)  # the run's own solver (euler, 2 steps) is not dopri5 ...
    np.testing.assert_array_equal(own, analyses.sample(pointflow_task, 2, 30, seed=1))  # ... and is back
    with pytest.raises(BadInputError, match="unknown solver"):
        analyses.sample(pointflow_task, 2, 30, solver="leapfrog")
    with pytest.raises(BadInputError, match="1 to 1000 steps"):
        analyses.sample(pointflow_task, 2, 30, solver="euler", steps=0)
