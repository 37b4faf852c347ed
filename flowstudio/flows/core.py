"""The transform interface and its composition.

Convention (as in nflows): a :class:`Transform` maps *data* ``x`` to *noise* ``z`` in its
``forward`` direction, the direction used for density evaluation, and returns the
log absolute determinant of that map's Jacobian alongside the output::

    z, log|det dz/dx| = transform(x, context)
    x, log|det dx/dz| = transform.inverse(z, context)

so that, for a flow with base density p_Z, the change of variables reads
``log p_X(x) = log p_Z(z) + log|det dz/dx|``.

Tensors have shape ``(*batch, features)``. ``log|det J|`` has shape ``batch``. A
conditional transform takes a ``context`` of shape ``(B, context_features)`` whose leading
axis matches the first batch axis; it is broadcast over any further batch axes, so a
(B, N, 3) point cloud can be conditioned on one (B, C) shape latent.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from flowstudio.flows._checks import check_context, check_features


class Transform(nn.Module):
    """An invertible map with a tractable log-determinant.

    Subclasses implement :meth:`_forward` and :meth:`_inverse`; the public
    :meth:`forward` and :meth:`inverse` validate their inputs first so that every family
    rejects wrong shapes, dtypes and non-finite values with the same clear message.

    Attributes:
        features: size of the last axis the transform acts on.
        context_features: size of the conditioning vector, 0 when unconditional.
    """

    def __init__(self, features: int, context_features: int = 0) -> None:
        super().__init__()
        if features < 1:
            raise ValueError(f"features must be a positive integer, got {features}")
        if context_features < 0:
            raise ValueError(f"context_features must be >= 0, got {context_features}")
        self.features = int(features)
        self.context_features = int(context_features)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map data to noise: return ``(z, log|det dz/dx|)``."""
        self._validate(x, context)
        return self._forward(x, context)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map noise to data: return ``(x, log|det dx/dz|)``."""
        self._validate(z, context)
        return self._inverse(z, context)

    def inverse_value(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        """Map noise to data without the log-determinant: all that sampling needs. A CNF
        then integrates its state alone and never computes a divergence."""
        self._validate(z, context)
        return self._inverse_value(z, context)

    def _validate(self, x: Tensor, context: Tensor | None) -> None:
        check_features(x, self.features)
        check_context(context, self.context_features, x.shape[:-1])

    def _inverse_value(self, z: Tensor, context: Tensor | None) -> Tensor:
        return self._inverse(z, context)[0]

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    @property
    def inv(self) -> Transform:
        """The inverse transform, as a transform of its own."""
        return InverseTransform(self)


class InverseTransform(Transform):
    """Swap the two directions of a transform (IAF is the inverse of a MAF, for instance)."""

    def __init__(self, transform: Transform) -> None:
        super().__init__(transform.features, transform.context_features)
        self.transform = transform

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.transform._inverse(x, context)

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.transform._forward(z, context)


class Compose(Transform):
    """Apply transforms one after another; log-determinants add up.

    ``Compose(t1, t2)`` maps ``x -> t2(t1(x))`` in the forward (normalizing) direction.
    """

    def __init__(self, *transforms: Transform) -> None:
        if not transforms:
            raise ValueError("Compose needs at least one transform")
        features = transforms[0].features
        for t in transforms:
            if t.features != features:
                raise ValueError(
                    f"cannot compose a transform over {t.features} features with one over {features}"
                )
        super().__init__(features, max(t.context_features for t in transforms))
        self.transforms = nn.ModuleList(transforms)

    def _validate(self, x: Tensor, context: Tensor | None) -> None:
        check_features(x, self.features)
        if self.context_features:
            check_context(context, self.context_features, x.shape[:-1])

    @staticmethod
    def _context_for(t: Transform, context: Tensor | None) -> Tensor | None:
        return context if t.context_features else None

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[:-1])
        for t in self.transforms:
            x, logdet = t._forward(x, self._context_for(t, context))
            total = total + logdet
        return x, total

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[:-1])
        for t in reversed(self.transforms):
            z, logdet = t._inverse(z, self._context_for(t, context))
            total = total + logdet
        return z, total

    def _inverse_value(self, z: Tensor, context: Tensor | None) -> Tensor:
        for t in reversed(self.transforms):
            z = t._inverse_value(z, self._context_for(t, context))
        return z

    def __iter__(self) -> Iterable[Transform]:  # type: ignore[override]
        return iter(self.transforms)


def brute_force_logdet(transform: Transform, x: Tensor, context: Tensor | None = None) -> Tensor:
    """log|det J| of ``transform`` at each row of a (B, D) ``x`` from the full autograd Jacobian.

    Quadratic in memory and cubic in time: meant for tests in small dimensions.
    """
    def single(xi: Tensor, ci: Tensor | None) -> Tensor:
        ctx = None if ci is None else ci.unsqueeze(0)
        return transform(xi.unsqueeze(0), ctx)[0].squeeze(0)

    out = []
    for i in range(x.shape[0]):
        ci = None if context is None else context[i]
        jac = torch.autograd.functional.jacobian(lambda xi, ci=ci: single(xi, ci), x[i])
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)
