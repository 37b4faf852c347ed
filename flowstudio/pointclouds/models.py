"""Point densities: the interface the analyses use, and the single-shape models.

A single shape is a density p(x) over R^3 whose samples are the shape's surface points
(PointFlow's decoder without the shape latent). The ``cnf`` model learns it with a
continuous normalizing flow (Grathwohl et al. 2019, FFJORD); the discrete families
``realnvp``, ``glow``, ``maf``, the neural spline flows ``nsf`` (coupling) and ``nsf_ar``
(autoregressive), ``nice`` and ``planar`` learn the same density with a stack of discrete
transforms, so that a user can compare them with the CNF on the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from flowstudio.flows.cnf import CNF, make_cnf_flow
from flowstudio.flows.cnf_control import regularization_terms
from flowstudio.flows.core import Compose, Transform
from flowstudio.flows.flow import Flow
from flowstudio.flows.matching import MatchingSettings, only_cnf
from flowstudio.params import from_setting

SINGLE_SHAPE_MODELS = ("cnf", "realnvp", "glow", "maf", "nsf", "nsf_ar", "nice", "planar")
DISCRETE_MODELS = SINGLE_SHAPE_MODELS[1:]


@dataclass(frozen=True)
class DiscreteFlowSettings:
    """A discrete single-shape flow's options (:func:`flowstudio.flows.zoo.make_flow`'s) from
    the settings it reads: layers and width, and for the spline families (the models that
    read ``bins`` and ``tail_bound``) the splines' bins and bound."""

    num_layers: int = from_setting(8, name="flow_layers")
    hidden: int = from_setting(64, name="flow_hidden")
    bins: int | None = from_setting(None, optional=True)
    tail_bound: float | None = from_setting(None, optional=True)

    def flow_options(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


class PointDensity(nn.Module):
    """What every point-cloud model offers the analyses, in the model's normalized frame.

    ``latent_dim`` is 0 for single-shape models, which ignore any ``latent`` argument.
    """

    latent_dim: int = 0

    @property
    def point_temperature(self) -> float:
        """The model's own factor on the point noise of every draw (times the draw's
        ``temperature``); 1 unless a model's config says otherwise."""
        return 1.0

    def point_noise(self, k: int, p: int, temperature: float = 1.0) -> Tensor:
        """Base draws for k clouds of p points, (k, p, 3): N(0, (T P)^2 I) with T the draw's
        ``temperature`` and P :attr:`point_temperature`, on the model's device."""
        anchor = next(self.parameters())
        scale = temperature * self.point_temperature
        return scale * torch.randn(k, p, 3, device=anchor.device, dtype=anchor.dtype)

    @property
    def point_flow(self) -> nn.Module:
        """The flow that maps point noise to points (where a sampling solver applies)."""
        raise NotImplementedError

    def loss_terms(self, points: Tensor, step: int = 0) -> dict[str, Tensor]:
        """The training objective on a (B, N, 3) batch at training step ``step`` (a model may
        compute some terms on some steps only): ``loss`` (the total to minimize) and its
        parts for display, each a 0-dim tensor."""
        raise NotImplementedError

    def sample_points(
        self,
        k: int,
        p: int,
        temperature: float = 1.0,
        latent: Tensor | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """k clouds of p points, (k, p, 3); ``noise`` (k, p, 3) fixes the base draws."""
        raise NotImplementedError

    def point_log_prob(self, points: Tensor, latent: Tensor | None = None) -> Tensor:
        """log p(x) of each point of a (B, N, 3) batch, shape (B, N)."""
        raise NotImplementedError

    def trajectory(self, noise: Tensor, times: Sequence[float], latent: Tensor | None = None) -> Tensor:
        """Points along the way from base noise (K, P, 3) to samples: (M, K, P, 3), one
        frame per fraction in ``times`` (0 = noise, 1 = samples); see :func:`cnf_trajectory`."""
        raise NotImplementedError


class SingleShapeModel(PointDensity):
    """An unconditional density over the points of one shape.

    Args:
        name: ``cnf`` or one of the discrete families (see ``DISCRETE_MODELS``).
        matching: train the CNF by flow matching with these settings (None: by likelihood).
        options: passed to :func:`~flowstudio.flows.cnf.make_cnf_flow` for the CNF and to
            :func:`~flowstudio.flows.zoo.make_flow` for the discrete families.
    """

    def __init__(self, name: str, matching: MatchingSettings | None = None, **options: Any) -> None:
        super().__init__()
        if name not in SINGLE_SHAPE_MODELS:
            raise ValueError(f"unknown single-shape model {name!r}; expected one of {SINGLE_SHAPE_MODELS}")
        if matching is not None and name != "cnf":
            raise ValueError(f"flow matching trains the 'cnf' model, not {name!r}")
        self.name = name
        self.matching = matching
        if name == "cnf":
            self.flow: Flow = make_cnf_flow(3, 0, **options)
            if matching is not None:
                only_cnf(self.flow)
        else:
            from flowstudio.flows.zoo import make_flow

            self.flow = make_flow(name, 3, 0, **options)

    @property
    def point_flow(self) -> nn.Module:
        return self.flow

    def loss_terms(self, points: Tensor, step: int = 0) -> dict[str, Tensor]:
        """Negative log-likelihood per point of a (B, N, 3) batch, plus the RNODE penalties;
        or, for a CNF built with ``matching`` settings, the flow-matching loss of the points
        (each point its own path, times drawn per point)."""
        if self.matching is not None:
            matching = self.matching.loss(only_cnf(self.flow), points.reshape(-1, 3))
            return {"loss": matching, "matching": matching.detach()}
        nll = -self.flow.log_prob(points.reshape(-1, 3)).mean()
        penalty, reg = regularization(self)
        return {"loss": nll + penalty, "nll": nll.detach(), **reg}

    @torch.no_grad()
    def sample_points(
        self,
        k: int,
        p: int,
        temperature: float = 1.0,
        latent: Tensor | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        if noise is None:
            noise = self.point_noise(k, p, temperature)
        return self.flow.transform.inverse_value(noise.reshape(-1, 3)).reshape(noise.shape)

    def point_log_prob(self, points: Tensor, latent: Tensor | None = None) -> Tensor:
        return self.flow.log_prob(points.reshape(-1, 3)).reshape(points.shape[:-1])

    @torch.no_grad()
    def trajectory(self, noise: Tensor, times: Sequence[float], latent: Tensor | None = None) -> Tensor:
        flat = noise.reshape(-1, 3)
        frames = cnf_trajectory(self.flow, flat, times, None)
        return frames.reshape(len(frames), *noise.shape)


def _inverse_steps(transform: Transform) -> list[Transform]:
    """The transform's pieces in the order the inverse (noise -> data) applies them."""
    pieces = list(transform) if isinstance(transform, Compose) else [transform]
    return list(reversed(pieces))


def cnf_trajectory(flow: Flow, noise: Tensor, times: Sequence[float], context: Tensor | None) -> Tensor:
    """Frames of the map from base noise to data at the fractions ``times`` of the way
    (strictly increasing, in [0, 1]: 0 is the noise, 1 the data).

    Each piece of the flow's transform takes an equal share of [0, 1]. Inside a CNF block
    the frames come from its ODE solution (fraction f is time T (1 - f), since the CNF
    integrates data -> noise over [0, T]); a discrete piece is interpolated linearly
    between its input and output, which shows where it moves the points.
    """
    fractions = torch.as_tensor(list(times), dtype=torch.float64)
    if fractions.dim() != 1 or len(fractions) < 1:
        raise ValueError("times must be a non-empty sequence of fractions in [0, 1]")
    if (fractions < 0).any() or (fractions > 1).any() or (fractions[1:] <= fractions[:-1]).any():
        raise ValueError(f"times must increase strictly within [0, 1], got {list(times)}")
    steps = _inverse_steps(flow.transform)
    share = 1.0 / len(steps)
    frames: list[Tensor] = []
    state = noise
    for index, piece in enumerate(steps):
        lo, last = index * share, index == len(steps) - 1
        mask = (fractions >= lo) & ((fractions < lo + share) | last)
        local = ((fractions[mask] - lo) / share).clamp(0, 1)
        ctx = context if piece.context_features else None
        if isinstance(piece, CNF):
            # One solve gives the frames and the block's output (its state at t = 0).
            wanted = local if len(local) and local[-1] == 1 else torch.cat([local, local.new_ones(1)])
            end_time = piece.end_time.detach().double()
            path = piece.trajectory(state, ctx, times=(end_time * (1 - wanted)).to(state))
            frames += list(path[: len(local)])
            state = path[-1]
        else:
            after, _ = piece.inverse(state, ctx)
            frames += [(1 - w) * state + w * after for w in local.tolist()]
            state = after
    return torch.stack(frames)


def regularization(module: nn.Module) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted RNODE penalty of every CNF in ``module`` after a training forward pass
    (a zero tensor when none is regularized) and its terms, detached, for display."""
    terms = regularization_terms(module)
    penalty = sum(terms.values(), next(module.parameters()).new_zeros(()))
    return penalty, {name: value.detach() for name, value in terms.items()}
