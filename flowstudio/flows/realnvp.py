"""RealNVP: affine coupling layers (Dinh, Sohl-Dickstein & Bengio 2016).

"Density estimation using Real NVP" generalizes NICE's additive coupling to an affine one.
With a binary mask ``m`` splitting ``x`` into ``x_A`` (passed through) and ``x_B``,

    z_A = x_A,    z_B = x_B * exp(s(x_A, c)) + t(x_A, c),    log|det dz/dx| = sum_j s_j,
    x_B = (z_B - t(z_A, c)) * exp(-s(z_A, c))                 (the exact inverse),

where ``s`` and ``t`` come from one network of the pass-through part (and of the context
``c`` for the conditional variant). The Jacobian is triangular, so density and sampling are
both one network pass. Masks alternate between layers so every feature gets transformed;
:func:`flowstudio.flows.nets.alternating_mask` is the checkerboard pattern for vectors and
works for any feature count >= 2 (``[1, 0]``/``[0, 1]`` in 2-D, ``[1, 0, 1]``/``[0, 1, 0]`` in
3-D).

Unbounded log-scales make training blow up, so the raw output is squashed: ``"tanh"`` uses
``s = a * tanh(raw)`` with a learned per-feature ``a`` (the paper's §4.1 choice), ``"soft"``
the soft clamp ``s = b * tanh(raw / b)`` with a fixed bound ``b`` (``clamp``), and ``"none"``
leaves it raw. The network's last layer starts at zero, so each layer starts as the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows.nets import soft_clamp
from flowstudio.flows.nice import Coupling

SCALE_FUNCTIONS = ("soft", "tanh", "none")


class AffineCoupling(Coupling):
    """RealNVP's affine coupling ``z_B = x_B * exp(s(x_A, c)) + t(x_A, c)``.

    Args:
        features, mask, context_features, hidden, num_hidden_layers: see :class:`Coupling`.
        scale_fn: ``"soft"`` (default), ``"tanh"`` or ``"none"``; see the module docstring.
        clamp: the bound of the ``"soft"`` clamp on log-scales.
    """

    params_per_feature = 2

    def __init__(
        self,
        features: int,
        mask: Tensor,
        context_features: int = 0,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        scale_fn: str = "soft",
        clamp: float = 3.0,
    ) -> None:
        super().__init__(features, mask, context_features, hidden, num_hidden_layers)
        if scale_fn not in SCALE_FUNCTIONS:
            raise ValueError(f"unknown scale_fn {scale_fn!r}; choose one of {list(SCALE_FUNCTIONS)}")
        if not clamp > 0:
            raise ValueError(f"clamp must be > 0, got {clamp}")
        self.scale_fn = scale_fn
        self.clamp = float(clamp)
        if scale_fn == "tanh":
            self.tanh_scale = nn.Parameter(torch.ones(int(self.transform_index.numel())))

    def _log_scale_shift(self, params: Tensor) -> tuple[Tensor, Tensor]:
        raw, shift = params[..., 0], params[..., 1]
        if self.scale_fn == "soft":
            log_scale = soft_clamp(raw, self.clamp)
        elif self.scale_fn == "tanh":
            log_scale = self.tanh_scale * torch.tanh(raw)
        else:
            log_scale = raw
        return log_scale, shift

    def _couple(self, x_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._log_scale_shift(params)
        return x_tr * torch.exp(log_scale) + shift, log_scale.sum(-1)

    def _uncouple(self, z_tr: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._log_scale_shift(params)
        return (z_tr - shift) * torch.exp(-log_scale), -log_scale.sum(-1)
