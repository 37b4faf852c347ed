"""Point-cloud data sets for training and evaluation, with PointFlow's normalization.

PointFlow (Yang et al. 2019, ``datasets.py``) trains on shapes normalized with one global
mean (per axis) and one global standard deviation (over all coordinates) of the training
set, draws a fresh random subset of each shape's points every iteration, and evaluates
against the held-out shapes in the data's own frame. :class:`Normalization` records the
transform as a JSON-able dict so that samples can be written back in that frame
(:meth:`Normalization.invert`); :class:`PointCloudDataset` holds the splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.pointclouds.io import ShapeCollection

NORMALIZATION_MODES = ("dataset", "shape", "none")

ArrayLike = TypeVar("ArrayLike", np.ndarray, Tensor)


def _like(value: np.ndarray, ref: ArrayLike) -> ArrayLike:
    if isinstance(ref, Tensor):
        return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    return value.astype(ref.dtype if np.issubdtype(ref.dtype, np.floating) else np.float32)


@dataclass(frozen=True)
class Normalization:
    """The map from the data's frame to the model's: ``x_model = (x - center) / scale``.

    Modes:
        ``"dataset"``: PointFlow's default: ``center`` is the mean over all training
            points (per axis) and ``scale`` the standard deviation over all their
            coordinates (one number), so one affine map serves every shape.
        ``"shape"``: each shape is centred on its own mean and scaled into the unit
            sphere (``scale`` = its largest distance from the centre). ``center`` and
            ``scale`` record the training averages, which :meth:`invert` uses to put new
            samples (which have no frame of their own) into a typical shape's frame.
        ``"none"``: the identity.
    """

    mode: str = "dataset"
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZATION_MODES:
            raise BadInputError(f"normalization must be one of {NORMALIZATION_MODES}, got {self.mode!r}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise BadInputError(f"normalization scale must be positive, got {self.scale}")

    @classmethod
    def fit(cls, train_points: np.ndarray, mode: str = "dataset") -> Normalization:
        """Fit on training shapes (N, P, 3) (or one shape (P, 3))."""
        pts = np.asarray(train_points, dtype=np.float64).reshape(-1, np.shape(train_points)[-2], 3)
        if mode == "dataset":
            center = pts.reshape(-1, 3).mean(axis=0)
            # One std over all coordinates, as PointFlow's all_points_std, but about the
            # per-axis centre: PointFlow's data is centred, and data far from the origin
            # would otherwise be scaled by its offset rather than its spread.
            scale = float((pts.reshape(-1, 3) - center).std())
        elif mode == "shape":
            centers = pts.mean(axis=1)
            radii = np.linalg.norm(pts - centers[:, None], axis=2).max(axis=1)
            center, scale = centers.mean(axis=0), float(np.maximum(radii, 1e-12).mean())
        else:
            center, scale = np.zeros(3), 1.0
        return cls(mode, tuple(float(c) for c in center), scale if scale > 0 else 1.0)  # type: ignore[arg-type]

    def apply(self, points: ArrayLike) -> ArrayLike:
        """Data frame -> model frame, for (..., P, 3) numpy arrays or tensors."""
        if self.mode == "none":
            return points
        if self.mode == "shape":
            center = (
                points.mean(-2, keepdims=True)
                if isinstance(points, np.ndarray)
                else points.mean(-2, keepdim=True)
            )
            shifted = points - center
            norms = (
                np.linalg.norm(shifted, axis=-1) if isinstance(shifted, np.ndarray) else shifted.norm(dim=-1)
            )
            radius = (
                norms.max(-1, keepdims=True)
                if isinstance(norms, np.ndarray)
                else norms.amax(-1, keepdim=True)
            )
            return shifted / (radius[..., None] + 1e-12)
        return (points - _like(np.asarray(self.center), points)) / self.scale

    def invert(self, points: ArrayLike) -> ArrayLike:
        """Model frame -> data frame (for ``"shape"``, the training shapes' average frame)."""
        if self.mode == "none":
            return points
        return points * self.scale + _like(np.asarray(self.center), points)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "center": list(self.center), "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        try:
            center = tuple(float(c) for c in data.get("center", (0.0, 0.0, 0.0)))
            if len(center) != 3:
                raise ValueError
            return cls(str(data.get("mode", "dataset")), center, float(data.get("scale", 1.0)))  # type: ignore[arg-type]
        except BadInputError:
            raise
        except (TypeError, ValueError, AttributeError):
            raise BadInputError(f"malformed normalization record {data!r}") from None


class PointCloudDataset:
    """Train and test shapes in the model's frame, and random point subsets per step.

    Args:
        shapes: a :class:`ShapeCollection`, or an array (N, P, 3) / (P, 3).
        split: 'train'/'test' per shape; defaults to the collection's own split. Without
            one, a seeded random ``test_fraction`` of the shapes is held out (at least one
            when there are two shapes or more; a single shape is training data only).
        normalization: a mode of :class:`Normalization`, or a fitted one (e.g. restored
            from a checkpoint). It is fitted on the training shapes only.
        seed: seeds the split.

    Attributes:
        train, test: (N_train, P, 3) and (N_test, P, 3) float32 tensors in the model frame.
        train_names, test_names: the shapes' names.
        normalization: the fitted :class:`Normalization`.
    """

    def __init__(
        self,
        shapes: ShapeCollection | np.ndarray,
        *,
        split: np.ndarray | None = None,
        test_fraction: float = 0.2,
        normalization: str | Normalization = "dataset",
        seed: int = 0,
    ) -> None:
        if isinstance(shapes, ShapeCollection):
            points, names = shapes.points, list(shapes.names)
            split = shapes.split if split is None else split
        else:
            points = np.asarray(shapes, dtype=np.float32)
            points = points[None] if points.ndim == 2 else points
            names = [f"shape[{i}]" for i in range(len(points))]
        if points.ndim != 3 or points.shape[-1] != 3 or len(points) == 0:
            raise BadInputError(f"a data set needs shapes of shape (N, P, 3), got {points.shape}")
        if not 0.0 <= test_fraction < 1.0:
            raise BadInputError(f"test fraction must be in [0, 1), got {test_fraction}")
        if split is None:
            split = self._random_split(len(points), test_fraction, seed)
        is_train = np.asarray(split) == "train"
        if not is_train.any():
            raise BadInputError("the data set has no training shapes (every shape is in 'test')")
        self.normalization = (
            normalization
            if isinstance(normalization, Normalization)
            else Normalization.fit(points[is_train], normalization)
        )
        self.train = torch.from_numpy(
            np.ascontiguousarray(self.normalization.apply(points[is_train]), np.float32)
        )
        self.test = torch.from_numpy(
            np.ascontiguousarray(self.normalization.apply(points[~is_train]), np.float32)
        )
        self.train_names = [n for n, t in zip(names, is_train, strict=True) if t]
        self.test_names = [n for n, t in zip(names, is_train, strict=True) if not t]

    @staticmethod
    def _random_split(n: int, test_fraction: float, seed: int) -> np.ndarray:
        split = np.full(n, "train", dtype="<U5")
        if n >= 2 and test_fraction > 0:
            n_test = min(n - 1, max(1, round(n * test_fraction)))
            split[np.random.default_rng(seed).permutation(n)[:n_test]] = "test"
        return split

    @property
    def points_per_shape(self) -> int:
        return int(self.train.shape[1])

    def to(self, device: torch.device | str) -> PointCloudDataset:
        """Move the cached tensors (e.g. to the GPU once, not every step)."""
        self.train, self.test = self.train.to(device), self.test.to(device)
        return self

    def sample_batch(
        self,
        batch_size: int,
        n_points: int,
        generator: torch.Generator | None = None,
        split: str = "train",
    ) -> Tensor:
        """A (batch_size, n_points, 3) batch in the model frame, on the data's device.

        Shapes are drawn without replacement when ``batch_size`` allows, and each one
        contributes a fresh random subset of ``n_points`` of its points (with
        replacement only when it holds fewer), as PointFlow's training loader does.
        ``generator`` must live on the data's device.
        """
        data = self.train if split == "train" else self.test
        if len(data) == 0:
            raise BadInputError(f"the data set has no {split!r} shapes")
        n, p = data.shape[:2]
        device = data.device
        if batch_size <= n:
            shapes = torch.randperm(n, generator=generator, device=device)[:batch_size]
        else:
            shapes = torch.randint(n, (batch_size,), generator=generator, device=device)
        if n_points <= p:
            keys = torch.rand(batch_size, p, generator=generator, device=device)
            # the n smallest keys, in order: argsort's first n, 3-4x cheaper than sorting
            # them all (a sort was 6% of a quick PointFlow step)
            points = keys.topk(n_points, dim=1, largest=False).indices
        else:
            points = torch.randint(p, (batch_size, n_points), generator=generator, device=device)
        return data[shapes[:, None], points]

    def reference_set(self, split: str = "test", *, data_frame: bool = True) -> Tensor:
        """The shapes to evaluate against, (N, P, 3); in the data's frame by default.

        PointFlow compares samples and references after undoing the normalization. A data
        set with no test shapes (one shape) falls back to its training shapes.
        """
        data = self.test if split == "test" and len(self.test) else self.train
        return self.normalization.invert(data) if data_frame else data

    def __len__(self) -> int:
        return len(self.train) + len(self.test)

    def __repr__(self) -> str:
        return (
            f"PointCloudDataset(train={len(self.train)}, test={len(self.test)}, "
            f"points={self.points_per_shape}, normalization={self.normalization.mode!r})"
        )
