"""A pure PyTorch flow library: transforms, base distributions, flows and CNFs.

Imports neither Qt, RDKit nor VTK. See :mod:`flowstudio.flows.core` for the conventions.
"""

from flowstudio.flows.core import Compose, InverseTransform, Transform, brute_force_logdet
from flowstudio.flows.distributions import (
    ConditionalDiagonalNormal,
    DiagonalNormal,
    Distribution,
    StandardNormal,
)
from flowstudio.flows.flow import Flow

__all__ = [
    "Compose",
    "ConditionalDiagonalNormal",
    "DiagonalNormal",
    "Distribution",
    "Flow",
    "InverseTransform",
    "StandardNormal",
    "Transform",
    "brute_force_logdet",
]
