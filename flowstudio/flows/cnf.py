"""Continuous normalizing flows: FFJORD with RNODE regularization.

A CNF (Chen et al. 2018; Grathwohl et al. 2018, "FFJORD") transports data ``x = z(0)``
to noise ``z(T)`` along ``dz/dt = f(t, z; c)``. Its log-determinant follows the
instantaneous change of variables::

    log|det dz(T)/dz(0)| = ∫_0^T tr ∂f/∂z(t) dt,

so ``forward`` (data -> noise) integrates ``(z, logdet)`` from 0 to T and returns
``(z(T), ∫_0^T tr J dt)``; ``inverse`` integrates from T to 0 and returns
``(z(0), ∫_T^0 tr J dt) = (x, log|det dx/dz|)``. The trace is exact (``D`` batched
vector-Jacobian products, cheap for 3-D points) or Hutchinson's estimate with noise fixed
over each solve (:mod:`flowstudio.flows.divergence`).

RNODE (Finlay et al. 2020, "How to train your neural ODE: the world of Jacobian and
kinetic regularization") adds ``λ_K ∫ ||f||^2 dt + λ_J ∫ ||∂f/∂z||_F^2 dt`` to the loss; it
straightens trajectories and cuts the number of function evaluations (NFE). In training
mode ``forward`` integrates both integrals as extra ODE states and stores their batch
means in :attr:`CNF.regularization`;
:func:`~flowstudio.flows.cnf_control.regularization_terms` weights and sums them over every
CNF in a model.

Augmented dimensions (Dupont et al. 2019, "Augmented Neural ODEs"): with
``augment_dims = k`` the ODE runs in ``R^{D+k}``. ``forward`` starts from ``(x, 0)``,
returns the first ``D`` coordinates ``z`` of the end state and, as its log-determinant,
``log|det J_{D+k}| + log N(a_T; 0, I_k)`` where ``a_T`` are the last ``k`` coordinates.
Under a standard normal base, ``Flow.log_prob(x)`` is therefore
``log p(x, a = 0)``: the joint model density of the augmented vector at ``a = 0``. It is
not a normalized density of ``x`` (it integrates to the model's marginal density of
``a`` at 0), so compare NLLs only between models with the same ``augment_dims``.
``inverse`` draws ``a_T ~ N(0, I_k)``, integrates back and drops the augmented
coordinates; its log-determinant is ``log|det J_{D+k}^{-1}| - log N(a_T)``, so that
``Flow.sample_and_log_prob`` gives the joint density at the sampled end point. With
augmentation ``inverse(forward(x))`` is not ``x`` because ``a_T`` is redrawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowstudio.flows.core import Compose, Transform
from flowstudio.flows.distributions import StandardNormal
from flowstudio.flows.divergence import NOISE_KINDS, sample_noise
from flowstudio.flows.flow import Flow
from flowstudio.flows.odenets import ODENet, broadcast_context
from flowstudio.flows.odesolve import (
    ADAPTIVE_SOLVERS,
    FIXED_STEP_SOLVERS,
    Dynamics,
    NFECounter,
    ODESolverError,
    SolverSettings,
    inverse_softplus,
    solve,
)

__all__ = ["CNF", "ODESolverError", "make_cnf_flow"]

TRACES = ("exact", "hutchinson")
FALLBACK_STEPS = 100


class CNF(Transform):
    """A continuous normalizing flow ``dz/dt = f(t, z; c)`` over ``t ∈ [0, T]``.

    Args:
        features: data dimension ``D``.
        context_features: size of the conditioning vector; a (B, C) context conditions
            (B, D) vectors or (B, N, D) point sets.
        net: the dynamics ``net(t, z, context) -> dz/dt`` over ``D + augment_dims``
            features; by default an :class:`~flowstudio.flows.odenets.ODENet`.
        hidden, activation: the default net's hidden widths and nonlinearity.
        end_time: ``T``. ``train_end_time`` learns it, parametrized as ``softplus(θ) > 0``.
        solver: an adaptive torchdiffeq solver (``dopri5``…) with ``atol``/``rtol``, or a
            fixed-step one (``rk4``, ``euler``, ``midpoint``) with ``steps`` over the
            current ``[0, T]`` (a constant cost per solve, also when ``T`` is learned) or
            a fixed ``step_size`` (the number of steps then follows ``T``). ``step_power`` > 1
            crowds a fixed-step solver's steps toward the data end (``odesolve.power_grid``).
        adjoint: backpropagate with the adjoint method (memory constant in the NFE).
        trace: ``"exact"`` or ``"hutchinson"`` (with ``noise`` ``"gaussian"`` or
            ``"rademacher"``) in training mode; evaluation mode computes the exact trace
            whenever the net has ``forward_and_jacobian`` (the default ODENet does).
        kinetic_weight, jacobian_weight: RNODE weights λ_K, λ_J (Finlay et al. use 0.01).
        augment_dims: extra zero-initialized state dimensions (see the module docstring).
        max_nfe: function evaluations allowed in one solve before :class:`ODESolverError`.
        on_underflow: ``"raise"`` an :class:`ODESolverError` when a solve fails (step size
            underflow, more than ``max_nfe`` evaluations, a non-finite result), or
            ``"fallback"``: log a warning and solve again with fixed-step RK4 in
            ``FALLBACK_STEPS`` steps. This covers the solves of ``forward``, ``inverse`` and
            ``trajectory``. The adjoint's backward solve runs inside autograd: ``max_nfe``
            still stops it with an :class:`ODESolverError`, but a step-size underflow there
            surfaces as torchdiffeq's ``AssertionError`` and is not retried.

    Attributes:
        regularization: after a training-mode ``forward``, ``{"kinetic": mean ∫||f||^2 dt,
            "jacobian": mean ∫||∂f/∂z||_F^2 dt}`` (means over the batch; unweighted); empty
            after an evaluation-mode ``forward``.
        nfe_forward, nfe_backward: function evaluations since :meth:`reset_nfe` in solves
            (``forward``, ``inverse``, ``trajectory``) and in autograd backward passes
            (evaluations backpropagated through, or the adjoint solve's evaluations).
    """

    def __init__(
        self,
        features: int,
        context_features: int = 0,
        *,
        net: nn.Module | None = None,
        hidden: Sequence[int] = (64, 64),
        activation: str = "softplus",
        end_time: float = 1.0,
        train_end_time: bool = False,
        solver: str = "dopri5",
        atol: float = 1e-5,
        rtol: float = 1e-5,
        step_size: float | None = None,
        steps: int | None = None,
        step_power: float = 1.0,
        adjoint: bool = False,
        trace: str = "exact",
        noise: str = "gaussian",
        kinetic_weight: float = 0.0,
        jacobian_weight: float = 0.0,
        augment_dims: int = 0,
        max_nfe: int = 10_000,
        on_underflow: str = "raise",
    ) -> None:
        super().__init__(features, context_features)
        _check_options(
            end_time, solver, step_size, steps, step_power, trace, noise, augment_dims, max_nfe, on_underflow
        )
        self.steps = None if steps is None else int(steps)
        self.step_power = float(step_power)
        self.augment_dims = int(augment_dims)
        self.augment_base = StandardNormal(self.augment_dims) if self.augment_dims else None
        self.net = net if net is not None else ODENet(
            features + self.augment_dims, context_features, hidden, activation
        )
        raw_end_time = torch.tensor(inverse_softplus(float(end_time)))
        if train_end_time:
            self.raw_end_time = nn.Parameter(raw_end_time)
        else:
            self.register_buffer("raw_end_time", raw_end_time)
        self.solver, self.atol, self.rtol, self.step_size = solver, float(atol), float(rtol), step_size
        self.adjoint, self.trace, self.noise = bool(adjoint), trace, noise
        self.kinetic_weight, self.jacobian_weight = float(kinetic_weight), float(jacobian_weight)
        self.max_nfe, self.on_underflow = int(max_nfe), on_underflow
        self.regularization: dict[str, Tensor] = {}
        self._nfe = NFECounter()

    @property
    def end_time(self) -> Tensor:
        """``T = softplus(θ)``, a positive scalar tensor (differentiable when learned)."""
        return F.softplus(self.raw_end_time)

    @property
    def nfe_forward(self) -> int:
        return self._nfe.forward

    @property
    def nfe_backward(self) -> int:
        return self._nfe.backward

    def reset_nfe(self) -> None:
        self._nfe.forward = self._nfe.backward = 0

    def _forward(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        regularize = self.training
        z0 = self._augment(x, x.new_zeros(*x.shape[:-1], self.augment_dims))
        state = (z0, x.new_zeros(x.shape[:-1]))
        if regularize:
            state += (x.new_zeros(x.shape[:-1]), x.new_zeros(x.shape[:-1]))
        end = self._solve(state, context, self._times(x, reverse=False))
        z, logdet = end[0][..., : self.features], end[1]
        if self.augment_dims:
            logdet = logdet + self.augment_base._log_prob(end[0][..., self.features :], None)
        self.regularization = {"kinetic": end[2].mean(), "jacobian": end[3].mean()} if regularize else {}
        return z, logdet

    def _inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        start, aug = self._from_noise(z)
        end = self._solve((start, z.new_zeros(z.shape[:-1])), context, self._times(z, True))
        logdet = end[1]
        if self.augment_dims:
            logdet = logdet - self.augment_base._log_prob(aug, None)
        return end[0][..., : self.features], logdet

    def _inverse_value(self, z: Tensor, context: Tensor | None) -> Tensor:
        end = self._solve((self._from_noise(z)[0],), context, self._times(z, True))
        return end[0][..., : self.features]

    def trajectory(self, z: Tensor, context: Tensor | None = None, *, times: Tensor) -> Tensor:
        """States along the flow from noise to data.

        Args:
            z: noise, (*batch, D).
            times: a strictly decreasing 1-D tensor of times in ``[0, T]``, typically
                ``torch.linspace(T, 0, M)``; the solve starts from ``z`` at ``t = T``.

        Returns:
            (M, *batch, D): the state at each of ``times`` (``z`` itself at ``t = T``).
        """
        self._validate(z, context)
        end_time = self.end_time.detach()
        times = torch.as_tensor(times, dtype=z.dtype, device=z.device).reshape(-1)
        if times.numel() == 0 or (times.numel() > 1 and not bool((times[1:] < times[:-1]).all())):
            raise ValueError(f"times must be a non-empty, strictly decreasing 1-D tensor, got {times}")
        if bool(times[0] > end_time + 1e-6) or bool(times[-1] < 0):
            raise ValueError(f"times must lie in [0, T] = [0, {float(end_time):g}], got {times}")
        from_end = bool(times[0] < end_time - 1e-6)
        grid = torch.cat([end_time.reshape(1).to(times), times]) if from_end else times
        path = self._solve((self._from_noise(z)[0],), context, grid, keep_path=True)[0][..., : self.features]
        return path[1:] if from_end else path

    # --- internals -------------------------------------------------------------------

    def _augment(self, x: Tensor, aug: Tensor) -> Tensor:
        return torch.cat([x, aug], dim=-1) if self.augment_dims else x

    def _from_noise(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The state an inverse solve starts from, ``(z, a_T)`` with fresh ``a_T ~ N(0, I_k)``,
        and that ``a_T``."""
        aug = torch.randn(*z.shape[:-1], self.augment_dims, dtype=z.dtype, device=z.device)
        return self._augment(z, aug), aug

    def _times(self, like: Tensor, reverse: bool) -> Tensor:
        end_time = self.end_time.to(like.dtype)
        times = torch.stack([torch.zeros_like(end_time), end_time])
        return times.flip(0) if reverse else times

    def _solve(
        self, state: tuple[Tensor, ...], context: Tensor | None, times: Tensor, keep_path: bool = False
    ) -> tuple[Tensor, ...]:
        z = state[0]
        context = broadcast_context(context, z)
        noise = sample_noise(z, self.noise) if self._hutchinson() and len(state) > 1 else None
        dynamics = Dynamics(
            self.net, context, noise=noise, counter=self._nfe, max_nfe=self.max_nfe,
            count_backward_hooks=not self.adjoint,
        )
        params = tuple(self.net.parameters())
        if context is not None and context.requires_grad:
            params += (context,)
        step_size = self.step_size
        if self.steps is not None and self.solver in FIXED_STEP_SOLVERS:
            step_size = float(self.end_time.detach()) / self.steps
        settings = SolverSettings(self.solver, self.atol, self.rtol, step_size, self.adjoint, self.step_power)
        path = solve(
            dynamics, state, times, settings, adjoint_params=params,
            fallback_steps=FALLBACK_STEPS if self.on_underflow == "fallback" else None,
        )
        return path if keep_path else tuple(s[-1] for s in path)

    def _hutchinson(self) -> bool:
        """Hutchinson's estimate while training when asked; in evaluation mode the exact
        trace wherever the net gives its Jacobian by forward mode (``D + 1`` forward
        passes), so that densities shown and scored are free of estimator noise."""
        if self.trace != "hutchinson":
            return False
        return self.training or not hasattr(self.net, "forward_and_jacobian")

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, context_features={self.context_features}, solver={self.solver!r}, "
            f"trace={self.trace!r}, adjoint={self.adjoint}, augment_dims={self.augment_dims}, "
            f"kinetic_weight={self.kinetic_weight:g}, jacobian_weight={self.jacobian_weight:g}"
        )


def _check_options(
    end_time: float, solver: str, step_size: float | None, steps: int | None, step_power: float, trace: str,
    noise: str, augment_dims: int, max_nfe: int, on_underflow: str,
) -> None:
    if not (math.isfinite(end_time) and end_time > 0):
        raise ValueError(f"end_time must be a positive number, got {end_time}")
    if solver not in ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS:
        raise ValueError(f"solver must be one of {ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS}, got {solver!r}")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not (math.isfinite(step_power) and step_power > 0):
        raise ValueError(f"step_power must be a positive number, got {step_power}")
    if solver in FIXED_STEP_SOLVERS and steps is None and not (step_size is not None and step_size > 0):
        raise ValueError(
            f"the fixed-step solver {solver!r} needs steps >= 1 or a positive step_size, got {step_size}"
        )
    if trace not in TRACES:
        raise ValueError(f"trace must be one of {TRACES}, got {trace!r}")
    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {NOISE_KINDS}, got {noise!r}")
    if augment_dims < 0:
        raise ValueError(f"augment_dims must be >= 0, got {augment_dims}")
    if max_nfe < 1:
        raise ValueError(f"max_nfe must be >= 1, got {max_nfe}")
    if on_underflow not in ("raise", "fallback"):
        raise ValueError(f"on_underflow must be 'raise' or 'fallback', got {on_underflow!r}")


def make_cnf_flow(
    features: int, context_features: int = 0, *, blocks: int = 1, batch_norm: bool = False, **cnf_options
) -> Flow:
    """A flow of ``blocks`` CNFs onto a standard normal base.

    With ``batch_norm`` a moving batch norm (FFJORD, PointFlow) comes before the first
    block and after each one.
    """
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    transforms: list[Transform] = []
    norm = _moving_batch_norm() if batch_norm else None
    if norm is not None:
        transforms.append(norm(features))
    for _ in range(blocks):
        transforms.append(CNF(features, context_features, **cnf_options))
        if norm is not None:
            transforms.append(norm(features))
    return Flow(Compose(*transforms), StandardNormal(features))


def _moving_batch_norm() -> type[Transform]:
    try:
        from flowstudio.flows.batchnorm import MovingBatchNorm
    except ImportError as err:
        raise NotImplementedError(
            "batch_norm=True needs flowstudio.flows.batchnorm.MovingBatchNorm, which is not available"
        ) from err
    return MovingBatchNorm
