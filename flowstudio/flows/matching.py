"""Flow matching: training a CNF by regression, without solving its ODE.

A CNF's velocity field ``f(t, z; c)`` can be fitted to a *conditional* field whose paths
between a data point and a noise draw are known in closed form (Lipman et al. 2023, "Flow
Matching for Generative Modeling"; Liu et al. 2023, "Flow Straight and Fast: rectified
flow"; Albergo & Vanden-Eijnden 2023). FlowStudio's CNFs carry data ``x`` at ``t = 0`` to
noise at ``t = T``, so with ``s = t / T`` the straight (optimal-transport) path of Lipman
et al., written in this direction, is::

    z_s = (1 - s) x + (σ + (1 - σ) s) ε,        ε ~ N(0, I),  s ∈ [0, 1],
    dz/dt = ((1 - σ) ε - x) / T,

with ``σ = sigma_min`` a minimum noise level (0 gives the rectified-flow path). The loss

    L = E_{s, x, ε} || f(s T, z_s; c) - dz/dt ||²

has the same gradient as the regression onto the marginal field that carries the data
distribution (blurred by σ) to N(0, I) (Lipman et al., theorem 2), so its minimizer is a
CNF with that density. One network evaluation per training step replaces an ODE solve
with its divergence, and the trained model is a CNF like any other: it samples with any
solver and its exact ``log_prob`` comes from integrating the divergence.

Couplings. ``independent`` pairs each data point with its own noise draw. ``ot`` re-pairs
the noise of each group by an exact optimal-transport assignment under squared distance
(minibatch OT, Tong et al. 2024 "Improving and generalizing flow-based generative models
with minibatch optimal transport"; Pooladian et al. 2023): paths cross less, the learned
field is straighter and few-step sampling is more accurate. For a point cloud the group is
one shape's points, which are i.i.d. draws from that shape's density, so the pairing
stays a valid coupling of p(x | c) with the Gaussian.

Time distributions. ``uniform`` draws ``s ~ U(0, 1)``; ``logit_normal`` draws
``s = sigmoid(n), n ~ N(0, 1)``, which spends more of the training on the middle of the
path where the target field is hardest (Esser et al. 2024, "Scaling rectified flow
transformers"). ``data_end`` draws ``s = u², u ~ U(0, 1)`` (density ``1 / (2 sqrt(s))``: half
the draws fall in ``s < 1/4``), which spends more of the training near the data, where the
field must carry points onto thin surfaces, the last stretch that decides how sharp a
sampled shape is.

Augmented CNFs (:class:`~flowstudio.flows.cnf.CNF` with ``augment_dims``) are matched
in their augmented space with the data's extra coordinates at 0, as ``forward`` starts
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from flowstudio.flows.cnf import CNF
from flowstudio.flows.flow import Flow
from flowstudio.flows.odenets import broadcast_context

TIME_DISTRIBUTIONS = ("uniform", "logit_normal", "data_end")
COUPLINGS = ("independent", "ot")


OBJECTIVES = ("likelihood", "flow_matching")
"""How a CNF is trained: maximum likelihood through its ODE solve, or flow matching."""


@dataclass(frozen=True)
class MatchingSettings:
    """The options of :func:`flow_matching_loss` that a model stores in its config."""

    sigma_min: float = 0.0
    time_distribution: str = "uniform"
    coupling: str = "independent"

    def loss(self, cnf: CNF, x: Tensor, context: Tensor | None = None) -> Tensor:
        """:func:`flow_matching_loss` of ``cnf`` on ``x`` with these settings."""
        return flow_matching_loss(
            cnf, x, context, sigma_min=self.sigma_min, time_distribution=self.time_distribution,
            coupling=self.coupling,
        )


def only_cnf(flow: Flow) -> CNF:
    """The CNF of a flow made of one CNF block (and nothing else), which flow matching trains.

    Stacked blocks or moving batch norm have no closed-form path between data and noise:
    train those by maximum likelihood.
    """
    pieces = list(getattr(flow.transform, "transforms", [flow.transform]))
    if len(pieces) != 1 or not isinstance(pieces[0], CNF):
        raise ValueError(
            "flow matching trains a flow of exactly one CNF block without batch norm; this flow has "
            f"{', '.join(type(p).__name__ for p in pieces)} (use blocks=1, batch_norm=False)"
        )
    return pieces[0]


def sample_path_times(n: int, distribution: str, *, like: Tensor) -> Tensor:
    """``n`` path fractions ``s`` in (0, 1) drawn from ``distribution`` (see the module)."""
    if distribution == "uniform":
        return torch.rand(n, dtype=like.dtype, device=like.device)
    if distribution == "logit_normal":
        return torch.sigmoid(torch.randn(n, dtype=like.dtype, device=like.device))
    if distribution == "data_end":
        return torch.rand(n, dtype=like.dtype, device=like.device).square()
    raise ValueError(f"time distribution must be one of {TIME_DISTRIBUTIONS}, got {distribution!r}")


def straight_path(x: Tensor, noise: Tensor, s: Tensor, sigma_min: float) -> tuple[Tensor, Tensor]:
    """The point ``z_s`` of the straight path from ``x`` (s = 0) to ``noise`` (s = 1) and
    its velocity ``dz/ds``; ``s`` broadcasts against ``x``."""
    z = (1 - s) * x + (sigma_min + (1 - sigma_min) * s) * noise
    return z, (1 - sigma_min) * noise - x


def ot_pairing(x: Tensor, noise: Tensor) -> Tensor:
    """``noise`` re-ordered within each group so that the sum of squared distances to ``x``
    is smallest: an exact assignment (Hungarian algorithm) per group.

    ``x`` and ``noise`` are (N, D) (one group: the batch) or (B, N, D) (B groups, e.g. B
    shapes of N points). Runs on the CPU with SciPy; the cost grows as N³, so keep groups
    to a few hundred points.
    """
    from scipy.optimize import linear_sum_assignment

    if x.shape != noise.shape or x.dim() not in (2, 3):
        raise ValueError(
            f"ot_pairing needs equal (N, D) or (B, N, D) shapes, got {tuple(x.shape)}, {tuple(noise.shape)}"
        )
    grouped_x = x.detach().reshape(-1, *x.shape[-2:])
    grouped_noise = noise.reshape(-1, *noise.shape[-2:])
    cost = torch.cdist(grouped_x, grouped_noise.detach()).pow(2).cpu().numpy()
    order = np.stack([linear_sum_assignment(c)[1] for c in cost])
    index = torch.as_tensor(order, device=noise.device).unsqueeze(-1).expand_as(grouped_noise)
    return torch.gather(grouped_noise, 1, index).reshape(noise.shape)


def flow_matching_loss(
    cnf: CNF,
    x: Tensor,
    context: Tensor | None = None,
    *,
    sigma_min: float = 0.0,
    time_distribution: str = "uniform",
    coupling: str = "independent",
    noise: Tensor | None = None,
) -> Tensor:
    """The conditional flow-matching loss of ``cnf`` on a batch (a 0-dim tensor).

    Args:
        cnf: the flow's CNF (its net, end time ``T`` and augmentation are used; no solve).
        x: data, (B, D), or (B, N, D) point sets conditioned on a (B, C) ``context``.
        sigma_min: the path's noise level at the data end (module docstring).
        time_distribution: ``uniform`` or ``logit_normal``; one ``s`` per row of the first
            batch axis (per shape for point sets, where the gate of the ODE net is then
            computed once per shape).
        coupling: ``independent`` or ``ot`` (exact assignment per shape for (B, N, D),
            over the batch for (B, D)).
        noise: the noise end of each path, shaped like ``x``, instead of fresh draws: a
            coupling given by the caller. Rectified flow's reflow (Liu et al. 2023, §2.3)
            passes pairs made by the model itself, ``x = model(noise)``, whose straight
            paths do not cross, so the refitted field is straighter and few steps suffice
            (:mod:`flowstudio.pointclouds.reflow`). ``coupling`` must then be ``independent``.

    Returns:
        The mean over the batch and the state's coordinates of ``||f - dz/dt||²``, in
        squared state units per unit time.
    """
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
    if not 0.0 <= sigma_min < 1.0:
        raise ValueError(f"sigma_min must lie in [0, 1), got {sigma_min}")
    cnf._validate(x, context)
    if noise is not None and (noise.shape != x.shape or coupling != "independent" or cnf.augment_dims):
        raise ValueError(
            f"given noise must be shaped like x {tuple(x.shape)}, with the independent coupling and "
            f"a CNF without augmented dimensions; got {tuple(noise.shape)}, {coupling!r}, "
            f"augment_dims={cnf.augment_dims}"
        )
    if cnf.augment_dims:
        x = torch.cat([x, x.new_zeros(*x.shape[:-1], cnf.augment_dims)], dim=-1)
    if noise is None:
        noise = torch.randn_like(x)
    if coupling == "ot":
        noise = ot_pairing(x, noise)
    s = sample_path_times(x.shape[0], time_distribution, like=x).reshape(-1, *[1] * (x.dim() - 1))
    z, velocity = straight_path(x, noise, s, sigma_min)
    end_time = cnf.end_time.detach().to(x.dtype)  # T is fixed under flow matching
    predicted = cnf.net(s * end_time, z, broadcast_context(context, z))
    return (predicted - velocity / end_time).pow(2).mean()
