"""Reflow: straighten a flow-matching PointFlow's point CNF so that few steps draw good shapes.

Rectified flow's second stage (Liu et al., ICLR 2023, "Flow Straight and Fast", §2.3): the
independent coupling of data and noise makes paths cross, so the learnt marginal field
bends and a one- or two-step solve lands off the data. Drawing pairs from the model
itself, ``x̂ = decode(z, ε)`` for noise ``ε``, gives a coupling whose straight paths do not
cross (the ODE's own flow is one-to-one), and fitting the field to those straight paths
(:func:`~flowstudio.flows.matching.flow_matching_loss` with ``noise=ε``) makes it straighter
with every round. PSF (Wu et al., CVPR 2023) applies it to point clouds the same way.

Here the pairs are made once, at the start, by the model as it is (the teacher): for each
training shape a latent ``z ~ q(z | X)`` (what the decoder meets when it samples from the
aggregate posterior the prior fits) and ``points`` noise points carried to the shape by a
``teacher_steps`` RK4 solve. Then the point CNF (the student, starting from the teacher's
weights) regresses onto the straight paths of random batches of pairs, for ``seconds`` of
wall time or ``max_steps`` steps. Only the point CNF changes: the encoder and prior stay.

Whether it pays is measured, not assumed: ``benchmarks/pointflow_reflow.py`` scores one-
to eight-evaluation samplers before and after (results in
``benchmarks/results/pointflow-matching.md``).
"""

from __future__ import annotations

import copy
import time

import torch
from torch import Tensor, nn

from flowstudio.flows.cnf_control import solver_override
from flowstudio.flows.matching import flow_matching_loss, only_cnf
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.task_types import StageStep

REFLOW_LR_FACTOR = 0.2
"""The stage's learning rate as a fraction of the run's: a refit from trained weights
(1e-3 beside the quick preset's 5e-3 in ``benchmarks/pointflow_reflow.py``)."""


class Reflow:
    """A :class:`~flowstudio.task_types.FinalStage` over ``model.decoder``'s parameters.

    Not ``judged`` by validation: the refitted field carries the data to a slightly
    different density than the teacher's (its held-out ELBO may be a little worse), and
    the user who asked for it wants its straight paths."""

    judged = False
    on_stop = False

    def __init__(
        self, model: PointFlow, train: Tensor, seconds: float, lr: float, *, max_steps: int | None = None,
        points: int = 512, teacher_steps: int = 8, batch: int = 32, batch_points: int = 128,
    ) -> None:
        if model.config.objective != "flow_matching":
            raise ValueError("reflow refits a flow-matching point CNF; this model learns by likelihood")
        budget = [f"{seconds:g} s"] if seconds != float("inf") else []
        budget += [f"{max_steps} steps"] if max_steps is not None else []
        self.title = f"reflow: straightening the point CNF on pairs of its own for {' or '.join(budget)}"
        self.model, self.train, self.lr = model, train, lr
        self.seconds, self.max_steps = seconds, max_steps
        self.points, self.teacher_steps = points, teacher_steps
        self.batch, self.batch_points = batch, batch_points
        self.started: float | None = None
        self.steps = 0
        self.losses: list[float] = []

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.decoder.parameters())

    @torch.no_grad()
    def _begin(self) -> None:
        """The teacher's pairs: a latent per training shape, noise and where it solves to."""
        model, train = self.model, self.train
        mu, std = model.posteriors(train)
        self.before = copy.deepcopy(model.decoder.state_dict())
        self.z = mu + std * torch.randn_like(mu)
        self.noise = torch.randn(len(train), self.points, 3, device=train.device, dtype=train.dtype)
        with solver_override(model.decoder, solver="rk4", steps=self.teacher_steps, step_size=None):
            self.ends = torch.cat([
                model.decode(self.z[k : k + 64], self.noise[k : k + 64]) for k in range(0, len(train), 64)
            ])
        self.started = time.monotonic()

    def step(self) -> StageStep | None:
        if self.started is None:
            self._begin()
        assert self.started is not None
        if time.monotonic() - self.started >= self.seconds or (
            self.max_steps is not None and self.steps >= self.max_steps
        ):
            return None
        shapes = torch.randint(len(self.z), (min(self.batch, len(self.z)),), device=self.z.device)
        picked = torch.randperm(self.points, device=self.z.device)[: self.batch_points]
        ends, noise = self.ends[shapes][:, picked], self.noise[shapes][:, picked]
        loss = flow_matching_loss(only_cnf(self.model.decoder), ends, self.z[shapes], noise=noise)
        self.steps += 1
        self.losses.append(float(loss.detach()))
        return StageStep(terms={"loss": loss, "matching": loss.detach()})

    def summary(self) -> str:
        if not self.losses:
            return "reflow: no step ran"
        head = sum(self.losses[:50]) / len(self.losses[:50])
        tail = sum(self.losses[-50:]) / len(self.losses[-50:])
        return f"reflow: {self.steps} steps, matching loss on its own pairs {head:.4f} -> {tail:.4f}"

    def abandon(self) -> str:
        self.model.decoder.load_state_dict(self.before)
        return f"reflow stopped at a non-finite loss after {self.steps} steps; point CNF restored"
