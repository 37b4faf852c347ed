"""PointFlow's final stage: fit the latent prior alone to the final encoder's posteriors.

In joint training the prior chases posteriors that move with the encoder, one batch at a
time, and it lags behind: the reconstructions of a short run are sharper than its samples.
Fitting it to the frozen encoder (the second stage of a two-stage VAE, Dai & Wipf, ICLR 2019)
is cheap, since no point CNF runs, and it is what draws the samples. The loss is the ELBO's
prior term, ``-log p(z)`` for ``z ~ q(z | X)`` over the training shapes, per latent
dimension, plus the prior's RNODE penalties. The engine runs it
(:mod:`flowstudio.training.stages`) for ``seconds`` of wall time; a non-finite loss restores
the prior as it was.
"""

from __future__ import annotations

import copy
import math
import time

import torch
from torch import Tensor, nn

from flowstudio.pointclouds.models import regularization
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.task_types import StageStep

BATCH = 64
"""Latents per step."""


class PriorRefinement:
    """A :class:`~flowstudio.task_types.FinalStage` over ``model.prior``'s parameters."""

    judged = True  # a prior refitted to the encoder scores a better ELBO, or is not kept
    on_stop = False

    def __init__(self, model: PointFlow, train: Tensor, seconds: float, lr: float) -> None:
        self.title = f"refining the latent prior on the {len(train)} training shapes for {seconds:g} s"
        self.lr = lr
        self.model, self.train, self.seconds = model, train, seconds
        self.started: float | None = None
        self.steps, self.first = 0, math.nan
        self.last: Tensor | None = None
        self.pending: Tensor | None = None  # the last step's -log p(z), counted once it is applied

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.prior.parameters())

    def _begin(self) -> None:
        """The posteriors q(z | X) of every training shape, and the prior as it was."""
        model = self.model
        self.mu, self.std = model.posteriors(self.train)
        self.before = copy.deepcopy(model.prior.state_dict())
        self.started = time.monotonic()

    def _count_pending(self) -> None:
        if self.pending is not None:
            if self.steps == 0:
                self.first = float(self.pending)
            self.steps, self.last, self.pending = self.steps + 1, self.pending, None

    def step(self) -> StageStep | None:
        if self.started is None:
            self._begin()
        self._count_pending()
        assert self.started is not None
        if time.monotonic() - self.started >= self.seconds:
            return None
        model, mu = self.model, self.mu
        index = torch.randint(len(mu), (min(len(mu), BATCH),), device=mu.device)
        z = mu[index] + self.std[index] * torch.randn_like(mu[index])
        nll = -model.latent_log_prob(z).mean() / model.latent_dim
        penalty, _ = regularization(model.prior)
        self.pending = nll.detach()
        return StageStep(terms={"loss": nll + penalty, "nll": self.pending})

    def summary(self) -> str:
        self._count_pending()
        if self.steps == 0:  # stopped before its first step (a user's Stop during _begin)
            return "latent prior not refined: stopped before its first step"
        last = math.nan if self.last is None else float(self.last)
        per_dim = f"{self.first:.3f} -> {last:.3f}"
        return f"latent prior refined: {self.steps} steps, -log p(z) per dimension {per_dim}"

    def abandon(self) -> str:
        self.model.prior.load_state_dict(self.before)
        return f"the prior refinement stopped at a non-finite loss after {self.steps} steps; prior restored"
