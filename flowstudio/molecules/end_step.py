"""GraphAF's END step: whether a molecule ends, as a logistic classifier with an exact latent.

FlowStudio's addition to GraphAF (Shi et al., ICLR 2020; see ``benchmarks/results/graphaf.md``):
before the atom type, a node step decides whether the molecule goes on or ends. A Gaussian
flow over a dequantized rare class puts too little mass past its decision boundary (for an
END probability of 0.02 about 0.003), and over the 20-odd atoms of a molecule the shortfall
lets it run on to the size cap; a classifier's probability is exact.

Its latent is one number ``z ~ N(0, 1)``, and the molecule ends when ``Phi(z) < P(END)``:
inverting this CDF keeps decoding exact and sampling at temperature 1 calibrated. The
"log-determinant" of the step is the decision's log-probability, so the node step's
log-likelihood is ``log P(decision) + [go on] log p(type)``.

When sampling, ``offset[num_atoms]`` is added to the END logit (the per-size calibration of
:mod:`flowstudio.molecules.calibration`); it never enters the likelihood.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.functional import logsigmoid


class EndClassifier(nn.Linear):
    """``P(END) = sigmoid(w . relu(c) + b)`` of the node steps' conditioner hidden layer ``c``
    (its pre-activation, shared with the atom-type flow). Starts at ``P(END) = 1/2``."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, 1)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def log_probs(
        self, cond: Tensor, offset: Tensor | None = None, num_atoms: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(log P(go on), log P(END))`` of each row; with ``offset`` and ``num_atoms``
        (atoms so far), after the sampling calibration."""
        logit = self(torch.relu(cond)).squeeze(1)
        if offset is not None and num_atoms is not None:
            logit = logit + offset[num_atoms.clamp(0, offset.numel() - 1)]
        return logsigmoid(-logit), logsigmoid(logit)

    @staticmethod
    def encode(log_go: Tensor, log_end: Tensor, ends: Tensor, noise: Tensor | None) -> tuple[Tensor, Tensor]:
        """The latents (n, 1) of the decisions ``ends`` (bool, n) and their log-probabilities.

        ``u ~ U(0, 1)`` (``noise``) falls in ``[0, P(END))`` for END and in ``[P(END), 1)``
        for go on, and ``z = Phi^-1(u)``. Go on is written as ``z = -Phi^-1(1 - u)`` so that
        ``u`` near 1 keeps its precision (a near-certain END, or an improbable one, still
        decodes exactly).
        """
        u = (torch.rand_like(log_end) if noise is None else noise).clamp(1e-6, 1 - 1e-6)
        z_end = torch.special.ndtri(u * log_end.exp())
        z_go = -torch.special.ndtri((1 - u) * log_go.exp())
        return torch.where(ends, z_end, z_go).unsqueeze(1), torch.where(ends, log_end, log_go)

    @staticmethod
    def decide(z: Tensor, log_end: Tensor) -> Tensor:
        """Whether latents ``z`` (n,) decode to END: ``Phi(z) < P(END)``, compared as
        ``log Phi(z) < log P(END)`` to keep the tails exact."""
        return torch.special.log_ndtr(z) < log_end
