"""Small networks the discrete flows use as conditioners, and the binary masks of couplings.

:class:`MLP` is a plain multilayer perceptron ``R^in (x R^context) -> R^out``. An optional
context vector of shape ``(B, C)`` is broadcast over any further batch axes of the input
(a (B, N, D) point cloud conditioned on one (B, C) latent) and concatenated to it. The last
layer is initialized to zero by default so that a coupling or autoregressive layer built on
it starts as the identity map, which keeps deep stacks well-conditioned at initialization
(Dinh et al. 2016, "Density estimation using Real NVP"; Kingma & Dhariwal 2018, §3).

:func:`alternating_mask` and :func:`half_mask` give the binary masks ``m`` of coupling
layers (Dinh et al. 2014, 2016): features with ``m = 1`` pass through unchanged and condition
the update of those with ``m = 0``. For vectors the "checkerboard" pattern is the parity of
the feature index; it works for any number of features from 2 up, 3 included.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowstudio.flows._checks import expand_context

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def activation(name: str) -> nn.Module:
    """Instantiate an activation by name: one of ``silu``, ``relu``, ``tanh``, ``elu``."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}") from None


class MLP(nn.Module):
    """A multilayer perceptron with an optional context input.

    Args:
        in_features: size of the input's last axis.
        out_features: size of the output's last axis.
        hidden: width of the hidden layers.
        num_hidden_layers: number of hidden layers (>= 1).
        context_features: size of the conditioning vector, 0 for none.
        activation_name: ``silu`` (default), ``relu``, ``tanh`` or ``elu``.
        zero_init: initialize the last layer to zero so the output starts at 0.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        num_hidden_layers: int = 2,
        context_features: int = 0,
        activation_name: str = "silu",
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        if num_hidden_layers < 1:
            raise ValueError(f"num_hidden_layers must be >= 1, got {num_hidden_layers}")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.in_features = int(in_features)
        self.context_features = int(context_features)
        layers: list[nn.Module] = []
        width = in_features + context_features
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden), activation(activation_name)]
            width = hidden
        last = nn.Linear(width, out_features)
        if zero_init:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if self.context_features:
            if context is None:
                raise ValueError(
                    f"this network is conditional: pass a context of shape (B, {self.context_features})"
                )
            x = torch.cat([x, expand_context(context, x.shape[:-1]).to(x.dtype)], dim=-1)
        return self.net(x)


def alternating_mask(features: int, parity: int = 0) -> Tensor:
    """Boolean mask that is True on features ``i`` with ``i % 2 == parity``.

    The vector analogue of RealNVP's checkerboard mask: for 2 features it is ``[1, 0]`` or
    ``[0, 1]``, for 3 it is ``[1, 0, 1]`` or ``[0, 1, 0]``.
    """
    return (torch.arange(features) % 2) == (parity % 2)


def half_mask(features: int, parity: int = 0) -> Tensor:
    """Boolean mask that is True on the first ``ceil(features / 2)`` features (or the rest
    when ``parity`` is odd): RealNVP's channel-wise mask for vectors."""
    mask = torch.arange(features) < (features + 1) // 2
    return mask if parity % 2 == 0 else ~mask


def make_mask(kind: str, features: int, parity: int) -> Tensor:
    """A coupling mask of ``kind`` ``alternating`` (checkerboard) or ``half`` (channel-wise)."""
    if kind == "alternating":
        return alternating_mask(features, parity)
    if kind == "half":
        return half_mask(features, parity)
    raise ValueError(f"unknown mask {kind!r}; choose 'alternating' or 'half'")


def soft_clamp(s: Tensor, bound: float) -> Tensor:
    """``bound * tanh(s / bound)``: the identity near 0, saturating smoothly at +-bound."""
    return bound * torch.tanh(s / bound)
