"""Learning-rate schedules that follow the run's budget.

A FlowStudio run is bounded by steps (``iters``), by wall-clock minutes, or both, so a
schedule is a function of the *fraction of the budget used*, not of a step count chosen in
advance: a quick preset trained for 8 minutes decays to its final rate at minute 8 whether
the machine made 3,000 steps or 9,000. With both budgets, the one nearer its end decides.

``cosine`` (Loshchilov & Hutter, ICLR 2017, without restarts) multiplies the base rate by

    f(p) = r + (1 - r) (1 + cos(pi p)) / 2,        p in [0, 1] the fraction used,

from 1 at the start to ``r = lr_final_factor`` at the end. A short run at a high constant
rate ends with weights that still move by a large step each update; letting the rate fall
lets the last few hundred steps settle them, which is what weight averaging tried to do
(``benchmarks/results/pointflow-matching.md``, section 6, where averaging failed and a
cosine decay is measured).

The base rate lives in each optimizer parameter group as ``"base_lr"`` (saved with the
optimizer), so that NaN rollbacks (which lower it) and a resumed run keep their own base;
``"lr"`` is the scheduled rate of the current step. A resumed run with a ``minutes`` budget
starts a new schedule over its new session (the budget is per session); an ``iters`` budget
counts the run's total steps, so the schedule continues where it stopped.
"""

from __future__ import annotations

import math

import torch

from flowstudio.params import LR_SCHEDULES as SCHEDULES


def lr_factor(schedule: str, fraction: float | None, final_factor: float) -> float:
    """The factor on the base rate at ``fraction`` of the budget (``None``: no budget, 1)."""
    if schedule == "constant" or fraction is None:
        return 1.0
    if schedule == "cosine":
        p = min(max(fraction, 0.0), 1.0)
        return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; known: {', '.join(SCHEDULES)}")


def remember_base_lr(optimizer: torch.optim.Optimizer) -> None:
    """Give every parameter group a ``base_lr`` (its current rate) unless it has one: a new
    optimizer, or one restored from a checkpoint written before schedules existed."""
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])


def scale_base_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Multiply every group's base and current rate by ``factor`` (a NaN rollback)."""
    for group in optimizer.param_groups:
        group["lr"] *= factor
        group["base_lr"] *= factor


def set_base_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every group's base and current rate to ``lr`` (a user's new rate on resume)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] = lr


def apply_schedule(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set each group's rate for the coming step: its base rate times ``factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
