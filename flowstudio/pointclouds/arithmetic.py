"""Latent arithmetic on shapes: attribute vectors between two groups, applied to any shape.

Glow (Kingma & Dhariwal 2018, §5.3) edits an image along an attribute by adding the
difference of the mean latents of the images with and without it, ``z' = z + s·(z̄₊ - z̄₋)``.
PointFlow (Yang et al. 2019) has a shape latent, the mean of its encoder posterior
``q(z | X)``, from which its point CNF decodes the shape; the same arithmetic then moves a
shape towards another group of shapes (short boxes towards tall ones, chairs towards armchairs):

- the attribute vector ``v = mean_{X in B} μ(X) - mean_{X in A} μ(X)`` of groups A ("from")
  and B ("to"), with ``μ`` the encoder mean;
- the edited shape ``decode(μ(X) + s·v)`` at strength ``s`` (0: the reconstruction, 1: the
  whole difference of the group means, negative: away from B).

All strengths decode with one shared draw of point noise, so each point moves continuously
as ``s`` changes and a strip of strengths reads as one shape changing. Shapes are given and
returned in the data's frame, as in :mod:`flowstudio.pointclouds.analyses` (under per-shape
normalization, in the edited shape's own frame, as a reconstruction is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.analyses import _cloud, _evaluating, _Frame, _needs_latent, encode

MAX_STRENGTH = 10.0
"""Strengths beyond this leave the region the prior covers: decodes there are not shapes."""


def _group_latents(task: Any, shapes: Any, name: str) -> np.ndarray:
    cloud = _cloud(shapes, name)
    if cloud.ndim != 3 or len(cloud) < 1:
        raise BadInputError(f"{name} must be a (N, P, 3) group of shapes, got shape {cloud.shape}")
    return encode(task, cloud)


def attribute_vector(task: Any, source: Any, target: Any) -> np.ndarray:
    """The attribute vector (Z,) from group ``source`` to group ``target`` (each (N, P, 3)):
    the difference of their mean encoder latents."""
    _needs_latent(_Frame(task), "latent arithmetic")
    return _group_latents(task, target, "the 'to' group").mean(0) - _group_latents(
        task, source, "the 'from' group"
    ).mean(0)


def check_strengths(strengths: Sequence[float]) -> list[float]:
    """The strengths as floats; a non-finite one or one past :data:`MAX_STRENGTH` is bad input."""
    values = [float(s) for s in strengths]
    if not values:
        raise BadInputError("give at least one strength")
    for s in values:
        if not (math.isfinite(s) and abs(s) <= MAX_STRENGTH):
            raise BadInputError(f"strength must be a finite number within ±{MAX_STRENGTH:g}, got {s}")
    return values


def apply_attribute(
    task: Any, shape: Any, vector: Any, strengths: Sequence[float], p: int | None = None, seed: int | None = 0
) -> np.ndarray:
    """``shape`` (P, 3) moved along ``vector`` (Z,) at each of ``strengths``, decoded into p
    points (default P): (len(strengths), p, 3), in the shape's frame."""
    frame = _Frame(task)
    _needs_latent(frame, "latent arithmetic")
    cloud = _cloud(shape, "shape")
    if cloud.ndim != 2:
        raise BadInputError(f"shape must be one (P, 3) cloud, got shape {cloud.shape}")
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape != (frame.model.latent_dim,) or not np.isfinite(v).all():
        raise BadInputError(
            f"the attribute vector must hold {frame.model.latent_dim} finite numbers, got shape {v.shape}"
        )
    s = np.asarray(check_strengths(strengths), dtype=np.float32)[:, None]
    p = p or len(cloud)
    if p < 1:
        raise BadInputError(f"need at least one point, got p={p}")
    latents = encode(task, cloud)[None] + s * v
    with _evaluating(frame, seed), torch.no_grad():
        noise = frame.model.point_noise(1, p).expand(len(s), -1, -1)
        x = frame.model.sample_points(len(s), p, latent=frame.tensor(latents), noise=noise).cpu().numpy()
    own = frame.own_frame(cloud)
    return own.invert(x).astype(np.float32) if own else frame.to_data(x.astype(np.float32))


def edit_shape(
    task: Any,
    source: Any,
    target: Any,
    shape: Any,
    strengths: Sequence[float],
    p: int | None = None,
    seed: int | None = 0,
) -> np.ndarray:
    """The attribute vector from ``source`` to ``target`` applied to ``shape`` at each strength."""
    return apply_attribute(task, shape, attribute_vector(task, source, target), strengths, p, seed)
