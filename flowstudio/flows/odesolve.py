"""ODE solving for CNFs on top of torchdiffeq: dynamics over a tuple of states, NFE
counting, step-size control that ignores the regularization channels, and solver
failures turned into :class:`ODESolverError`.

The state is ``(z, logdet, kinetic, jacobian)`` while training with regularization and
``(z, logdet)`` otherwise (``(z,)`` for trajectories), with

    dz/dt = f(t, z; c),           d logdet/dt = tr ∂f/∂z,
    d kinetic/dt = ||f||^2,       d jacobian/dt = ||∂f/∂z||_F^2

(Chen et al. 2018; Finlay et al. 2020). The adaptive solvers' error norm is the largest
RMS over ``z`` and ``logdet`` only: the two RNODE channels are integrated along but never
shrink a step, so regularizing does not by itself cost function evaluations. With
``adjoint=True`` the backward solve of the augmented state ``(t, y, a_y, a_θ)`` gets its
own norm (:func:`_adjoint_error_norm`, passed as torchdiffeq's ``adjoint_options``): the
time, ``z`` and ``logdet`` with their adjoints, and the parameter adjoints; the RNODE
channels and their adjoints stay out of its step control too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torchdiffeq import odeint, odeint_adjoint

from flowstudio.flows.divergence import exact_divergence, hutchinson_divergence

log = logging.getLogger(__name__)

ADAPTIVE_SOLVERS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4", "heun3")
FALLBACK_SOLVER = "rk4"


class ODESolverError(RuntimeError):
    """The ODE solver failed: the step size underflowed, the solve needed more than
    ``max_nfe`` function evaluations, or the state became non-finite."""


class NFECounter:
    """Function evaluations seen in forward solves and in autograd backward passes."""

    def __init__(self) -> None:
        self.forward = 0
        self.backward = 0


class Dynamics:
    """``(t, state) -> d state/dt`` for one solve: the net with its context and the
    Hutchinson noise fixed for the whole solve (and for the adjoint solve after it).

    A fresh object per solve keeps an adjoint backward pass using the context and noise of
    its own forward solve even when other solves ran in between.
    """

    def __init__(
        self,
        net: nn.Module,
        context: Tensor | None,
        *,
        noise: Tensor | None,
        counter: NFECounter,
        max_nfe: float,
        count_backward_hooks: bool,
    ) -> None:
        self.net = net
        self.context = context
        self.noise = noise
        self.counter = counter
        self.max_nfe = max_nfe
        self.count_backward_hooks = count_backward_hooks
        self.forward_calls = 0
        self.backward_calls = 0
        self.solver = "the solver"

    def __call__(self, t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        differentiable = torch.is_grad_enabled()
        self._count(in_backward=differentiable and not self.count_backward_hooks)
        if len(state) == 1:
            return (self.net(t, state[0], self.context),)
        regularize = len(state) == 4
        if self.noise is None and hasattr(self.net, "forward_and_jacobian"):
            f, div, frob = self._forward_mode(t, state[0], regularize)
        else:
            f, div, frob = self._by_autograd(t, state[0], differentiable, regularize)
        if differentiable and self.count_backward_hooks and f.requires_grad:
            f.register_hook(self._count_backward_hook)
        if regularize:
            return f, div, f.pow(2).sum(-1), frob
        return f, div

    def _forward_mode(self, t: Tensor, z: Tensor, regularize: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """The exact trace from the net's hand-written forward-mode Jacobian: no autograd
        inside the step, so it runs under no_grad when sampling and needs no double backward."""
        f, jac = self.net.forward_and_jacobian(t, z, self.context)
        div = jac.diagonal(dim1=-2, dim2=-1).sum(-1)
        return f, div, (jac.pow(2).sum((-2, -1)) if regularize else None)

    def _by_autograd(
        self, t: Tensor, z: Tensor, differentiable: bool, regularize: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """The trace (exact, or Hutchinson's with the solve's noise) by vector-Jacobian products."""
        with torch.enable_grad():
            if not (differentiable and z.requires_grad):
                z = z.detach().requires_grad_(True)
            f = self.net(t, z, self.context)
            if self.noise is None:
                div, frob = exact_divergence(f, z, create_graph=differentiable, frobenius=regularize)
            else:
                div, frob = hutchinson_divergence(
                    f, z, self.noise, create_graph=differentiable, frobenius=regularize
                )
        if not differentiable:
            f, div = f.detach(), div.detach()
            frob = None if frob is None else frob.detach()
        return f, div, frob

    def _count(self, *, in_backward: bool) -> None:
        if in_backward:
            self.counter.backward += 1
            self.backward_calls += 1
            calls = self.backward_calls
        else:
            self.counter.forward += 1
            self.forward_calls += 1
            calls = self.forward_calls
        if calls > self.max_nfe:
            direction = "adjoint (backward)" if in_backward else "ODE"
            raise ODESolverError(
                f"The CNF's {direction} solve with {self.solver} needed more than {self.max_nfe} "
                "function evaluations: the dynamics are too stiff or blow up. Loosen atol/rtol, use a "
                "fixed-step solver (e.g. solver='rk4', step_size=0.05), add RNODE regularization "
                "(kinetic_weight, jacobian_weight), lower the learning rate, or raise max_nfe."
            )

    def _count_backward_hook(self, grad: Tensor) -> None:
        self.counter.backward += 1


def _error_norm(n_controlled: int) -> Callable[[Sequence[Tensor]], Tensor]:
    """torchdiffeq's mixed RMS norm restricted to the first ``n_controlled`` states."""

    def norm(states: Sequence[Tensor]) -> Tensor:
        return torch.stack([s.pow(2).mean().sqrt() for s in states[:n_controlled]]).max()

    return norm


def _adjoint_error_norm(n_states: int, n_controlled: int) -> Callable[[Sequence[Tensor]], Tensor]:
    """The backward (adjoint) solve's error norm, restricted like :func:`_error_norm`.

    torchdiffeq gives a custom adjoint norm the augmented state flattened into one tuple
    ``(t, *y, *a_y, *a_θ)``: the time, the ``n_states`` states re-integrated backwards, their
    adjoints ``a_y = ∂L/∂y`` and the parameter adjoints ``a_θ``. The norm is the largest RMS
    over the time, the first ``n_controlled`` states and their adjoints, and every parameter
    adjoint (torchdiffeq's default, here written out so that it cannot drift from the forward
    norm); the RNODE channels, whose adjoints are constants, never shrink a backward step.
    """

    def rms(x: Tensor) -> Tensor:
        return x.pow(2).mean().sqrt()

    def norm(tensors: Sequence[Tensor]) -> Tensor:
        t, states = tensors[0], tensors[1 : 1 + n_states]
        adjoints, parameters = tensors[1 + n_states : 1 + 2 * n_states], tensors[1 + 2 * n_states :]
        controlled = [*states[:n_controlled], *adjoints[:n_controlled], *parameters]
        return max([t.abs(), *(rms(x) for x in controlled)])

    return norm


@dataclass(frozen=True)
class SolverSettings:
    """How to integrate: a torchdiffeq method with its tolerances or step size, and for a
    fixed-step method where its steps lie (``step_power``, :func:`power_grid`)."""

    method: str
    atol: float
    rtol: float
    step_size: float | None
    adjoint: bool
    step_power: float = 1.0

    def describe(self) -> str:
        power = f", step_power={self.step_power:g}" if self.step_power != 1 else ""
        return (
            f"solver {self.method!r} (atol={self.atol:g}, rtol={self.rtol:g}, "
            f"step_size={self.step_size}{power})"
        )


def power_grid(step_size: float, power: float) -> Callable[[object, object, Tensor], Tensor]:
    """A torchdiffeq ``grid_constructor``: the steps of a fixed-step solve over ``[lo, hi]``
    placed at ``lo + (hi - lo) (k / n)^power``, ``n = ⌈(hi - lo) / step_size⌉``.

    ``power = 1`` is the even grid of ``step_size``; above 1 the steps shorten toward
    ``lo``, which for a CNF is the data end ``t = 0``. There a sharp field (one that carries
    points onto thin surfaces) turns fastest, so an even grid of few steps blurs what the
    field draws, while the same number of steps crowded there does not (Karras et al. 2022
    space diffusion samplers' steps by a power for the same reason; the numbers are in
    ``benchmarks/results/pointflow-matching.md`` section 16). The grid runs in the
    direction of ``t``: from ``T`` down to 0 when sampling.
    """

    def construct(func: object, y0: object, t: Tensor) -> Tensor:
        start, end = t[0], t[-1]
        lo, hi = torch.minimum(start, end), torch.maximum(start, end)
        n = max(1, math.ceil(float((hi - lo).detach()) / step_size - 1e-9))
        grid = lo + (hi - lo) * torch.linspace(0, 1, n + 1, dtype=t.dtype, device=t.device).pow(power)
        grid = grid if bool(start <= end) else grid.flip(0)
        grid[0], grid[-1] = start, end  # torchdiffeq checks the ends exactly
        return grid

    return construct


def solve(
    dynamics: Dynamics,
    state: tuple[Tensor, ...],
    times: Tensor,
    settings: SolverSettings,
    *,
    adjoint_params: tuple[Tensor, ...],
    fallback_steps: int | None,
) -> tuple[Tensor, ...]:
    """Integrate ``state`` over ``times``; return each state at every time (leading axis).

    Raises :class:`ODESolverError` on underflow, runaway NFE or a non-finite result, or,
    when ``fallback_steps`` is set, retries once with fixed-step RK4 over that many steps.
    """
    try:
        return _checked_odeint(dynamics, state, times, settings, adjoint_params)
    except ODESolverError as err:
        if fallback_steps is None or settings.method == FALLBACK_SOLVER:
            raise
        log.warning("%s Retrying with fixed-step %s over %d steps.", err, FALLBACK_SOLVER, fallback_steps)
        # A fixed-step solve cannot run away: its NFE is fixed by the grid.
        dynamics.forward_calls = dynamics.backward_calls = 0
        dynamics.max_nfe = math.inf
        step = float((times[-1] - times[0]).abs()) / fallback_steps
        fallback = replace(settings, method=FALLBACK_SOLVER, step_size=step, step_power=1.0)
        return _checked_odeint(dynamics, state, times, fallback, adjoint_params)


def _checked_odeint(
    dynamics: Dynamics,
    state: tuple[Tensor, ...],
    times: Tensor,
    settings: SolverSettings,
    adjoint_params: tuple[Tensor, ...],
) -> tuple[Tensor, ...]:
    method, atol, rtol = settings.method, settings.atol, settings.rtol
    controlled = min(2, len(state))
    if method in FIXED_STEP_SOLVERS:
        options: dict = {"step_size": settings.step_size}
        if settings.step_power != 1 and settings.step_size is not None:
            options = {"grid_constructor": power_grid(settings.step_size, settings.step_power)}
        adjoint_options = dict(options)
    else:
        options = {"norm": _error_norm(controlled)}
        adjoint_options = {"norm": _adjoint_error_norm(len(state), controlled)}
    what = dynamics.solver = settings.describe()
    try:
        if settings.adjoint:
            out = odeint_adjoint(
                dynamics, state, times, rtol=rtol, atol=atol, method=method, options=options,
                adjoint_options=adjoint_options,
                # torchdiffeq leaves out frozen parameters itself, with a warning when the
                # adjoint norm is custom: leave them out here.
                adjoint_params=tuple(p for p in adjoint_params if p.requires_grad),
            )
        else:
            out = odeint(dynamics, state, times, rtol=rtol, atol=atol, method=method, options=options)
    except AssertionError as err:
        if "underflow" not in str(err) and "max_num_steps" not in str(err):
            raise
        raise ODESolverError(
            f"The CNF's ODE solve with {what} failed: {err}. The step size shrank to nothing, "
            "so the dynamics are stiff or diverge. Loosen atol/rtol, use a fixed-step solver "
            "(e.g. solver='rk4', step_size=0.05), add RNODE regularization, lower the learning "
            "rate, or construct the CNF with on_underflow='fallback'."
        ) from None
    if not all(bool(torch.isfinite(s[-1]).all()) for s in out[:2]):
        raise ODESolverError(
            f"The CNF's ODE solve with {what} produced non-finite values: the dynamics diverge. "
            "Use a smaller step size or tighter tolerances, add RNODE regularization, or lower "
            "the learning rate."
        )
    return out


def inverse_softplus(y: float) -> float:
    """``x`` with ``softplus(x) = y`` for ``y > 0``."""
    return y + math.log(-math.expm1(-y))
