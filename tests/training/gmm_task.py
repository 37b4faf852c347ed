"""A tiny but real Task for the engine's tests: fit a 2-D Gaussian mixture density.

The model is a learnable mixture of Gaussians plus a small MLP warp, trained by maximum
likelihood on samples of a fixed four-cluster mixture. It implements the whole Task
protocol, and can be told to misbehave: return NaN at given steps, raise, or call a hook.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from flowstudio.task_types import Snapshot

CENTERS = torch.tensor([[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]])


def make_data(n: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(CENTERS), (n,), generator=gen)
    return CENTERS[labels] + 0.4 * torch.randn(n, 2, generator=gen)


class MixtureDensity(nn.Module):
    """log p(x) of a K-component diagonal Gaussian mixture, after a near-identity MLP shift
    (the shift is volume-preserving only approximately; that is fine for a test density)."""

    def __init__(self, components: int = 4, hidden: int = 16) -> None:
        super().__init__()
        self.means = nn.Parameter(torch.randn(components, 2))
        self.log_scales = nn.Parameter(torch.zeros(components, 2))
        self.logits = nn.Parameter(torch.zeros(components))
        self.shift = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.shift[2].weight)

    def log_prob(self, x: Tensor) -> Tensor:
        z = x + 0.1 * self.shift(x)
        diff = (z[:, None, :] - self.means) / self.log_scales.exp()
        comp = -0.5 * (diff**2).sum(-1) - self.log_scales.sum(-1) - math.log(2 * math.pi)
        return torch.logsumexp(comp + torch.log_softmax(self.logits, 0), dim=1)

    def sample(self, n: int) -> Tensor:
        k = torch.multinomial(torch.softmax(self.logits, 0), n, replacement=True)
        return self.means[k] + self.log_scales[k].exp() * torch.randn(n, 2, device=self.means.device)


class GaussianMixtureTask:
    """The Task protocol, fully: model, config, device, loss terms, NFE, validation,
    snapshots and extra state (a counter of samples seen)."""

    kind = "points"

    def __init__(self, components: int = 4, batch: int = 64, model_name: str = "gmm2d",
                 nan_at: tuple[int, ...] = (), nan_from: int | None = None,
                 grad_nan_at: tuple[int, ...] = (),
                 raise_at: int | None = None, hook: Callable[[int], None] | None = None) -> None:
        self.model_name = model_name
        self.components, self.batch = components, batch
        self.model = MixtureDensity(components)
        self.data, self.val = make_data(2048, seed=1), make_data(256, seed=2)
        self.seen = torch.zeros((), dtype=torch.int64)
        self.nan_pending = set(nan_at)  # each fires once: a transient blow-up
        self.grad_nan_pending = set(grad_nan_at)  # finite loss, NaN gradient, once each
        self.nan_from, self.raise_at, self.hook = nan_from, raise_at, hook
        self.steps_called: list[int] = []

    def config(self) -> dict[str, Any]:
        return {"components": self.components, "batch": self.batch}

    def to(self, device: torch.device) -> None:
        self.model.to(device)
        self.data, self.val, self.seen = self.data.to(device), self.val.to(device), self.seen.to(device)

    def training_step(self, step: int) -> dict[str, Tensor]:
        self.steps_called.append(step)
        if self.hook is not None:
            self.hook(step)
        if step == self.raise_at:
            raise RuntimeError(f"boom at step {step}")
        idx = torch.randint(len(self.data), (self.batch,), device=self.data.device)
        nll = -self.model.log_prob(self.data[idx]).mean()
        prior = 1e-3 * (self.model.means**2).sum()
        loss = nll + prior
        if step in self.nan_pending or (self.nan_from is not None and step >= self.nan_from):
            self.nan_pending.discard(step)
            loss = loss * float("nan")
        if step in self.grad_nan_pending:
            self.grad_nan_pending.discard(step)
            loss = loss + torch.sqrt((self.model.means * 0).sum())  # value 0, gradient inf*0 = NaN
        self.seen += self.batch
        return {"loss": loss, "nll": nll, "prior": prior}

    def nfe(self) -> tuple[float | None, float | None]:
        return (1.0, None)

    def validation_metric(self) -> float:
        with torch.no_grad():
            return float(-self.model.log_prob(self.val).mean())

    def snapshot(self, n: int) -> Snapshot:
        pts = self.model.sample(n * 8).reshape(n, 8, 2)
        points = torch.cat([pts, torch.zeros(n, 8, 1, device=pts.device)], dim=-1)
        return Snapshot.of_points(points.cpu().numpy(), temperature=1.0)

    def extra_state(self) -> dict[str, Tensor]:
        return {"seen": self.seen}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        self.seen = state["seen"].to(self.seen.device)


def make_task(**kwargs: Any) -> GaussianMixtureTask:
    """A task built under a fixed seed, so two calls give the same initial model."""
    torch.manual_seed(1234)
    return GaussianMixtureTask(**kwargs)
