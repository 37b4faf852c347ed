"""Input validation shared by every transform and distribution.

Errors name the expected shape so that a user who passes a (B, N, 3) point cloud to a
flow over (B, 3) vectors learns what went wrong from the message alone.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_features(x: Tensor, features: int, name: str = "x") -> None:
    """Raise a ``ValueError`` unless ``x`` is a finite floating tensor of shape (..., features)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., {features}), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor of shape (..., {features}), got dtype {x.dtype}"
        )
    if x.dim() < 1 or x.shape[-1] != features:
        raise ValueError(
            f"{name} must have shape (..., {features}) (the last axis holds the {features} "
            f"features), got {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {bad} non-finite values (NaN or Inf); expected finite values")


def check_context(context: Tensor | None, features: int, batch_shape: torch.Size) -> None:
    """Validate a conditioning vector of shape (..., features) broadcastable to ``batch_shape``."""
    if features == 0:
        if context is not None:
            raise ValueError("this transform is unconditional but a context was given")
        return
    if context is None:
        raise ValueError(f"this transform is conditional: pass a context of shape (..., {features})")
    check_features(context, features, name="context")
    lead = context.shape[:-1]
    if len(lead) > len(batch_shape) or any(
        c not in (1, b) for c, b in zip(lead, batch_shape[: len(lead)], strict=False)
    ):
        raise ValueError(
            f"context of shape {tuple(context.shape)} does not match the batch shape "
            f"{tuple(batch_shape)}: expected (B, {features}) with B matching the leading axis"
        )


def expand_context(context: Tensor, batch_shape: torch.Size) -> Tensor:
    """Broadcast a (B, C) context to (B, *rest, C) so it lines up with ``batch_shape``."""
    extra = len(batch_shape) - (context.dim() - 1)
    view = context.reshape(*context.shape[:-1], *([1] * extra), context.shape[-1])
    return view.expand(*batch_shape, context.shape[-1])
