"""GraphAF's atom and bond decisions as classifiers with exact Gaussian latents.

GraphAF (Shi et al., ICLR 2020, Eq. 7-8) draws each atom type and bond class as the
``argmax`` of a dequantized one-hot vector that a conditional affine flow maps to a
Gaussian. Such a flow is one Gaussian per step (with FlowStudio's rotation, one with a full
covariance), and a Gaussian fitted to a mixture of dequantization cells puts too little mass
past the decision boundaries of the rare classes: after 3,600 training steps on MOSES the
flow model drew sulfur in 18.5% of its molecules at temperature 1 against 29% in held-out
molecules, fluorine in 10% against 20%, and too few ring-closing bonds
(``benchmarks/results/graphaf.md``, section 10). The END decision had the same fault and
became a classifier (:mod:`flowstudio.molecules.end_step`); this module does the same for
the K-way decisions.

A step is ``P(c) = softmax(l)_c`` of logits ``l`` read out of the step's conditioner
(linear in its hidden layer, as the flow's layers are), and its latent is a vector
``z ~ N(0, I_K)`` mapped to Gumbel noise, ``g_k = G^-1(Phi(z_k)) = -log(-log Phi(z_k))``:

- **decoding** is the Gumbel-max trick, ``c = argmax_k (log P(k) + g_k)``, an exact draw
  from ``P`` at temperature 1 (Gumbel 1954; Maddison et al. 2014). Scaling ``z`` by a
  temperature below 1 moves every ``g_k`` towards the same constant, so the most likely
  class wins more often, and at 0 always: the temperature of a Gaussian flow carries over.
- **encoding** a class ``c`` with uniform numbers ``u`` (the dequantization noise) draws
  the Gumbels *given* that ``c`` won (top-down, as in A* sampling, Maddison et al. 2014):
  the winner's perturbed score is ``s_c = log sum_k P(k) + G^-1(u_c) = G^-1(u_c)`` and
  every other is a Gumbel truncated below it,
  ``s_k = -log(exp(-s_c) + exp(-log P(k)) (-log u_k))``. Decoding the encoding returns
  ``c`` exactly, so interpolation and property walks in the latent space keep working.

The step's log-likelihood is ``log P(c)``, with no Gaussian density of ``z`` added
(:meth:`CategoricalDecision.forward` returns it in the place of the log-determinant). The
log-likelihood is then a cross-entropy, which a classifier learns directly, where a flow
must first shape a density over the dequantization cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from flowstudio.flows.parametrized import ParametrizedTransform

_EPS = 1e-6
"""Uniform numbers are kept this far from 0 and 1 (a Gumbel of -2.6 to 13.8)."""


def normal_to_gumbel(z: Tensor) -> Tensor:
    """``G^-1(Phi(z)) = -log(-log Phi(z))``, with ``log Phi`` computed in the log domain (in
    double precision, as :func:`gumbel_to_normal`)."""
    return (-torch.log(-torch.special.log_ndtr(z.double()))).to(z.dtype)


def gumbel_to_normal(g: Tensor) -> Tensor:
    """``Phi^-1(G(g))``, ``G(g) = exp(-exp(-g))``; above the median through ``1 - G`` so that a
    Gumbel near its upper tail keeps its precision. In double precision: a class of
    probability down to ``e^-700`` still encodes exactly (single precision stops at ``e^-69``)."""
    g64 = g.double()
    tail = -torch.expm1(-torch.exp(-g64))  # 1 - G(g)
    head = torch.exp(-torch.exp(-g64))  # G(g)
    tiny = torch.finfo(torch.float64).tiny
    z = torch.where(
        g64 > 0, -torch.special.ndtri(tail.clamp_min(tiny)), torch.special.ndtri(head.clamp_min(tiny))
    )
    return z.to(g.dtype)


@dataclass(frozen=True)
class CategoricalDecision(ParametrizedTransform):
    """The decisions of a batch of steps: ``log_probs`` (n, K), normalized.

    ``forward`` takes the dequantized one-hot ``onehot(c) + d u`` (``u`` in [0, 1)^K) and
    returns ``(z, log P(c))``; ``inverse`` returns the perturbed scores ``log P + g(z)``,
    whose ``argmax`` is the decision (over all classes, or over the allowed ones: the
    Gumbel-max trick restricted to a subset draws from ``P`` renormalized on it).
    """

    log_probs: Tensor
    dequantization: float

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        chosen = x.argmax(dim=-1, keepdim=True)
        onehot = torch.zeros_like(x).scatter_(-1, chosen, 1.0)
        u = ((x - onehot) / self.dequantization).clamp(_EPS, 1 - _EPS)
        top = -torch.log(-torch.log(u.gather(-1, chosen)))  # the winner's score
        others = -torch.logaddexp(-top, -self.log_probs + torch.log(-torch.log(u)))
        scores = torch.where(onehot.bool(), top.expand_as(x), others)
        z = gumbel_to_normal(scores - self.log_probs)
        return z, self.log_probs.gather(-1, chosen).squeeze(-1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.log_probs + normal_to_gumbel(z), torch.zeros(z.shape[:-1], device=z.device)

    def select(self, index: Tensor) -> CategoricalDecision:
        return CategoricalDecision(self.log_probs[index], self.dequantization)


class CategoricalSteps(nn.Module):
    """``K``-way decisions read out of a conditioner's hidden layer ``relu(c)``, with the same
    :meth:`at` as :class:`~flowstudio.flows.conditional_affine.ConditionalAffineStack` (the
    context is that layer's pre-activation). ``hidden_layers`` 1 reads the logits linearly
    out of that layer; each further one adds a ReLU layer of the same width before the
    readout, so that a decision can combine the step's features non-linearly more than once.
    Starts uniform, as the flow starts at the identity."""

    def __init__(
        self, classes: int, context_features: int, dequantization: float, hidden_layers: int = 1
    ) -> None:
        super().__init__()
        self.features, self.context_features, self.dequantization = classes, context_features, dequantization
        width = context_features
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(hidden_layers - 1))
        self.readout = nn.Linear(context_features, classes)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def at(self, pre_activation: Tensor) -> CategoricalDecision:
        """The decisions of each row of ``pre_activation`` (*, context_features)."""
        h = torch.relu(pre_activation)
        for layer in self.hidden:
            h = torch.relu(layer(h))
        logits = self.readout(h)
        return CategoricalDecision(torch.log_softmax(logits, dim=-1), self.dequantization)
