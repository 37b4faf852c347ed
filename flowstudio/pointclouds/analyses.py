"""What the window draws from a trained point-cloud model, as plain numpy arrays.

Every function takes a :class:`~flowstudio.pointclouds.task.PointCloudTask` (or a bare
:class:`~flowstudio.pointclouds.models.PointDensity`, whose frame is then the data's) and
works in the data's own coordinate frame: inputs are given and outputs returned in the
units of the training data, the task's normalization applied and undone inside. Densities
carry the normalization's Jacobian, so ``log p`` is a density over the data's space:
for an affine normalization ``u = A x + b``, ``log p_X(x) = log p_U(A x + b) + log|det A|``.

``seed`` makes a call repeatable without touching the global random state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.flows.cnf_control import ACCURATE, solver_override
from flowstudio.flows.odesolve import ADAPTIVE_SOLVERS, FIXED_STEP_SOLVERS
from flowstudio.pointclouds.datasets import Normalization
from flowstudio.pointclouds.models import PointDensity


class _Frame:
    """The model of a task or a bare model, with the maps between data and model frames."""

    def __init__(self, task_or_model: Any) -> None:
        if isinstance(task_or_model, PointDensity):
            self.model, self.task = task_or_model, None
        elif isinstance(getattr(task_or_model, "model", None), PointDensity):
            self.model, self.task = task_or_model.model, task_or_model
        else:
            kind = type(task_or_model).__name__
            raise TypeError(f"expected a PointCloudTask or a PointDensity, got {kind}")
        anchor = next(self.model.parameters())
        self.device, self.dtype = anchor.device, anchor.dtype

    def to_model(self, points: np.ndarray) -> np.ndarray:
        return points if self.task is None else self.task.to_model_frame(points)

    def to_data(self, points: np.ndarray) -> np.ndarray:
        return points if self.task is None else self.task.to_data_frame(points)

    def log_det(self) -> float:
        """log|det A| of the affine data -> model map, probed on the unit basis."""
        if self.task is None:
            return 0.0
        probe = np.vstack([np.zeros(3), np.eye(3)]).astype(np.float64)
        image = np.asarray(self.to_model(probe), dtype=np.float64)
        return float(np.linalg.slogdet(image[1:] - image[0])[1])

    def own_frame(self, cloud: np.ndarray) -> Normalization | None:
        """Under per-shape normalization, the given shape's own frame (its centre and
        radius), in which the model saw shapes during training; else ``None``."""
        if self.task is None or self.task.normalization.mode != "shape":
            return None
        return Normalization.fit(cloud, "shape")

    def tensor(self, points: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(points), dtype=self.dtype, device=self.device)

    def numpy_data(self, points: Tensor) -> np.ndarray:
        return self.to_data(points.detach().cpu().numpy().astype(np.float32))


@contextlib.contextmanager
def _evaluating(frame: _Frame, seed: int | None) -> Iterator[None]:
    """Eval mode (moving batch norms use their statistics) and, with a seed, a private RNG."""
    model = frame.model
    was_training = model.training
    model.eval()
    devices = [frame.device.index or 0] if frame.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        model.train(was_training)


def _cloud(points: Any, name: str) -> np.ndarray:
    """A (P, 3) or (B, P, 3) float array, checked."""
    array = np.asarray(points, dtype=np.float32)
    if array.ndim not in (2, 3) or array.shape[-1] != 3 or array.shape[-2] < 1:
        raise BadInputError(f"{name} must be a (P, 3) or (B, P, 3) array of points, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise BadInputError(f"{name} holds non-finite coordinates")
    return array


def _needs_latent(frame: _Frame, what: str) -> None:
    if frame.model.latent_dim == 0:
        raise BadInputError(f"{what} needs a model with a shape latent (pointflow), not a single-shape model")


def _latent(frame: _Frame, latent: Any) -> Tensor | None:
    if latent is None or frame.model.latent_dim == 0:
        return None
    z = frame.tensor(latent).reshape(-1, frame.model.latent_dim)
    return z


MAX_SAMPLE_POINTS = 50_000_000
"""The most points one request may draw (600 MB of float32 output); more is refused with a
message rather than left to exhaust memory."""
MAX_SOLVER_STEPS = 1000
"""The most fixed steps a sampling solve may take."""
LATENT_CHUNK = 256
"""Shape latents drawn from PointFlow's prior together."""
SAMPLE_CHUNK_POINTS = 1 << 16
"""Points integrated together: the solver's working memory is bounded by this chunk, not by
the request (a cloud's points are independent given its latent)."""


@contextlib.contextmanager
def point_solver(model: PointDensity, solver: str | None = None, steps: int | None = None) -> Iterator[None]:
    """Solve the point CNF with another solver inside the block: an adaptive one (``dopri5``
    at the accurate tolerances) or a fixed-step one over ``steps`` steps; nothing changes
    when both are None or the model has no CNF. A flow-matching model is trained without
    any solver, so how it samples is a free choice of speed against accuracy."""
    if solver is None and steps is None:
        yield
        return
    solver = solver or ("rk4" if steps else ACCURATE["solver"])
    if solver not in ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS:
        choices = ", ".join(ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS)
        raise BadInputError(f"unknown solver {solver!r}; choose one of {choices}")
    if solver in FIXED_STEP_SOLVERS:
        if steps is None or not 1 <= steps <= MAX_SOLVER_STEPS:
            raise BadInputError(
                f"the fixed-step solver {solver!r} needs 1 to {MAX_SOLVER_STEPS} steps, got {steps}"
            )
        settings: dict[str, Any] = {"solver": solver, "steps": int(steps), "step_size": None}
    else:
        settings = {**ACCURATE, "solver": solver, "steps": None, "step_size": None}
    with solver_override(model.point_flow, **settings):
        yield


def sample(
    task_or_model: Any, k: int, p: int, temperature: float = 1.0, seed: int | None = None, latent: Any = None,
    *, solver: str | None = None, steps: int | None = None,
) -> np.ndarray:
    """k new clouds of p points, (k, p, 3). PointFlow draws each shape latent from its prior
    (or uses ``latent``, (Z,) or (k, Z)); ``temperature`` scales the base noise of both.
    ``solver`` and ``steps`` choose how the point CNF is solved (:func:`point_solver`).

    The points are drawn in chunks of :data:`SAMPLE_CHUNK_POINTS`, so memory beyond the
    (k, p, 3) result stays bounded; at most :data:`MAX_SAMPLE_POINTS` points in all.
    """
    if k < 1 or p < 1:
        raise BadInputError(f"need at least one shape and one point, got k={k}, p={p}")
    if k * p > MAX_SAMPLE_POINTS:
        raise BadInputError(
            f"{k} shapes x {p} points = {k * p:,} points is more than the {MAX_SAMPLE_POINTS:,} one "
            f"request may draw ({MAX_SAMPLE_POINTS * 12 / 1e9:.1f} GB as float32); ask for fewer"
        )
    if not (math.isfinite(temperature) and temperature >= 0):
        raise BadInputError(f"temperature must be a finite number >= 0, got {temperature}")
    frame = _Frame(task_or_model)
    out = np.empty((k, p, 3), dtype=np.float32)
    shapes_per_chunk = max(1, SAMPLE_CHUNK_POINTS // p)
    points_per_chunk = min(p, SAMPLE_CHUNK_POINTS)
    with _evaluating(frame, seed), torch.no_grad(), point_solver(frame.model, solver, steps):
        z = _latent(frame, latent)
        if frame.model.latent_dim and z is None:  # in chunks: bounded solver memory
            z = torch.cat([
                frame.model.sample_latent(min(LATENT_CHUNK, k - s0), temperature)
                for s0 in range(0, k, LATENT_CHUNK)
            ])
        elif frame.model.latent_dim:
            z = _one_per_shape(z, k)
        for s0 in range(0, k, shapes_per_chunk):
            s1 = min(k, s0 + shapes_per_chunk)
            for q0 in range(0, p, points_per_chunk):
                q1 = min(p, q0 + points_per_chunk)
                chunk_latent = None if z is None else z[s0:s1]
                x = frame.model.sample_points(s1 - s0, q1 - q0, temperature, latent=chunk_latent)
                out[s0:s1, q0:q1] = frame.numpy_data(x)
    return out


def _one_per_shape(z: Tensor, k: int) -> Tensor:
    if z.shape[0] == 1:
        return z.expand(k, -1)
    if z.shape[0] != k:
        raise BadInputError(f"got {z.shape[0]} shape latents for {k} shapes: give one, or one per shape")
    return z


def encode(task: Any, shape: Any) -> np.ndarray:
    """The shape latent (the mean of q(z | X)) of a (P, 3) shape, or (B, Z) for a (B, P, 3) batch."""
    frame = _Frame(task)
    _needs_latent(frame, "encoding a shape")
    cloud = _cloud(shape, "shape")
    batch = cloud if cloud.ndim == 3 else cloud[None]
    inputs = [own.apply(c) if (own := frame.own_frame(c)) else frame.to_model(c) for c in batch]
    with _evaluating(frame, None), torch.no_grad():
        z = frame.model.encode(frame.tensor(np.stack(inputs)))
    z = z.cpu().numpy()
    return z if cloud.ndim == 3 else z[0]


def reconstruct(task: Any, shape: Any, p: int | None = None, seed: int | None = None) -> np.ndarray:
    """Encode a (P, 3) shape and decode its latent mean into p points (default P), (p, 3),
    in the shape's own frame."""
    frame = _Frame(task)
    _needs_latent(frame, "reconstruction")
    cloud = _cloud(shape, "shape")
    if cloud.ndim != 2:
        raise BadInputError(f"shape must be one (P, 3) cloud, got shape {cloud.shape}")
    z = frame.tensor(encode(task, cloud))
    with _evaluating(frame, seed), torch.no_grad():
        x = frame.model.sample_points(1, p or len(cloud), latent=z)[0].cpu().numpy()
    own = frame.own_frame(cloud)
    return own.invert(x).astype(np.float32) if own else frame.to_data(x)


def interpolate(
    task: Any, shape_a: Any, shape_b: Any, steps: int = 8, p: int = 2048, seed: int | None = None
) -> np.ndarray:
    """Shapes along the straight latent path between the encoder means of two shapes,
    (steps, p, 3). One draw of point noise is shared by every step, so that each point
    moves continuously and the endpoints are the two reconstructions."""
    if steps < 2:
        raise BadInputError(f"interpolation needs at least 2 steps, got {steps}")
    frame = _Frame(task)
    _needs_latent(frame, "interpolation")
    za, zb = encode(task, shape_a), encode(task, shape_b)
    if za.ndim != 1 or zb.ndim != 1:
        raise BadInputError("interpolate takes two single (P, 3) shapes")
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    path = (1 - weights) * za + weights * zb
    with _evaluating(frame, seed), torch.no_grad():
        noise = frame.model.point_noise(1, p).expand(steps, -1, -1)
        x = frame.model.sample_points(steps, p, latent=frame.tensor(path), noise=noise)
    return frame.numpy_data(x)


def point_log_likelihood(task_or_model: Any, points: Any, latent: Any = None) -> np.ndarray:
    """log p(x) of each point in the data's frame, shaped like ``points`` without the last axis.

    PointFlow scores points under ``latent`` when given, else under the encoder mean of
    the cloud they belong to (each cloud of a (B, P, 3) batch is encoded on its own).
    """
    frame = _Frame(task_or_model)
    cloud = _cloud(points, "points")
    batch = cloud if cloud.ndim == 3 else cloud[None]
    z = _latent(frame, latent)
    if z is not None and z.shape[0] not in (1, batch.shape[0]):
        raise BadInputError(f"expected one latent or one per cloud ({batch.shape[0]}), got {z.shape[0]}")
    with _evaluating(frame, 0), torch.no_grad():
        logp = frame.model.point_log_prob(frame.tensor(frame.to_model(batch)), latent=z)
    out = logp.cpu().numpy().astype(np.float64) + frame.log_det()
    return out if cloud.ndim == 3 else out[0]


_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def _plane_basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two orthonormal vectors spanning the plane orthogonal to the unit ``normal``."""
    helper = np.eye(3)[int(np.argmin(np.abs(normal)))]
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def density_slice(
    task_or_model: Any,
    axis: str | Sequence[float] = "z",
    offset: float = 0.0,
    resolution: int = 64,
    extent: float | None = None,
    latent: Any = None,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """log p on a square grid in the plane ``normal · x = offset`` of the data's frame.

    Args:
        axis: ``"x"``, ``"y"``, ``"z"`` or a normal vector (any length but zero).
        offset: the plane's signed distance from the origin along the unit normal.
        resolution: grid points along each side.
        extent: half the side of the square, in data units; by default 1.5 times the
            normalization's scale, centred on the data's centre projected onto the plane.
        latent: PointFlow only: the shape latent (Z,); by default one drawn from the prior.

    Returns:
        ``(coords, log_p)``: (R, R, 3) grid coordinates in the data frame and (R, R) log
        densities, ``log_p[i, j]`` at ``coords[i, j] = c + s_i u + t_j v``.
    """
    if resolution < 2:
        raise BadInputError(f"resolution must be >= 2, got {resolution}")
    frame = _Frame(task_or_model)
    if isinstance(axis, str) and axis not in _AXES:
        raise BadInputError(f"axis must be 'x', 'y', 'z' or a normal vector, got {axis!r}")
    normal = np.asarray(_AXES[axis] if isinstance(axis, str) else axis, dtype=np.float64)
    if normal.shape != (3,) or not np.isfinite(normal).all() or np.linalg.norm(normal) == 0:
        raise BadInputError(f"the slice normal must be a non-zero 3-vector, got {axis!r}")
    normal = normal / np.linalg.norm(normal)
    scale = float(np.exp(-frame.log_det() / 3.0))  # data units per model unit
    half = 1.5 * scale if extent is None else float(extent)
    if not half > 0:
        raise BadInputError(f"extent must be > 0, got {extent}")
    centre = np.asarray(frame.to_data(np.zeros((1, 3), dtype=np.float32)), dtype=np.float64)[0]
    centre = centre + (offset - centre @ normal) * normal
    u, v = _plane_basis(normal)
    s = np.linspace(-half, half, resolution)
    coords = centre + s[:, None, None] * u + s[None, :, None] * v
    coords = coords.astype(np.float32)
    if latent is None and frame.model.latent_dim:
        with _evaluating(frame, seed), torch.no_grad():
            latent = frame.model.sample_latent(1).cpu().numpy()
    logp = point_log_likelihood(task_or_model, coords.reshape(1, -1, 3), latent=latent)
    return coords, logp.reshape(resolution, resolution)


def trajectory(
    task_or_model: Any,
    p: int = 2048,
    times: int = 16,
    temperature: float = 1.0,
    latent: Any = None,
    seed: int | None = None,
) -> np.ndarray:
    """One cloud of p points on its way from base noise (frame 0) to a sample (the last
    frame), (times, p, 3). PointFlow decodes ``latent`` or one drawn from its prior."""
    if times < 2 or p < 1:
        raise BadInputError(f"a trajectory needs at least 2 times and 1 point, got {times}, {p}")
    frame = _Frame(task_or_model)
    with _evaluating(frame, seed), torch.no_grad():
        z = _latent(frame, latent)
        if z is None and frame.model.latent_dim:
            z = frame.model.sample_latent(1, temperature)
        noise = frame.model.point_noise(1, p, temperature)
        path = frame.model.trajectory(noise, np.linspace(0.0, 1.0, times).tolist(), latent=z)
    return frame.numpy_data(path[:, 0])
