"""A pure PyTorch flow library: transforms, base distributions, flows and CNFs.

Imports neither Qt, RDKit nor VTK. See :mod:`flowstudio.flows.core` for the conventions.
"""

from flowstudio.flows.autoregressive import IAF, MADE, MAF
from flowstudio.flows.batchnorm import MovingBatchNorm
from flowstudio.flows.cnf import CNF, ODESolverError, make_cnf_flow
from flowstudio.flows.cnf_control import count_nfe, regularization_terms, reset_nfe
from flowstudio.flows.conditional_affine import ConditionalAffineStack
from flowstudio.flows.core import Compose, InverseTransform, Transform, brute_force_logdet
from flowstudio.flows.distributions import (
    ConditionalDiagonalNormal,
    DiagonalNormal,
    Distribution,
    StandardNormal,
    standard_normal_log_prob,
)
from flowstudio.flows.flow import Flow
from flowstudio.flows.glow import ActNorm, InvertibleLinear
from flowstudio.flows.nets import MLP, alternating_mask, half_mask
from flowstudio.flows.nice import AdditiveCoupling, Coupling, DiagonalScaling
from flowstudio.flows.nsf import RQSplineAutoregressive, RQSplineCoupling
from flowstudio.flows.odenets import ConcatSquashLinear, ODENet
from flowstudio.flows.parametrized import AffineLayers, Chain, GivensRotation, ParametrizedTransform
from flowstudio.flows.permutations import Permutation, RandomPermutation, ReversePermutation
from flowstudio.flows.planar import PlanarTransform, RadialTransform
from flowstudio.flows.realnvp import AffineCoupling
from flowstudio.flows.splines import SplineOptions, rational_quadratic_spline
from flowstudio.flows.zoo import FAMILIES, family_defaults, make_flow

__all__ = [
    "CNF",
    "FAMILIES",
    "IAF",
    "MADE",
    "MAF",
    "MLP",
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "AffineLayers",
    "Chain",
    "Compose",
    "ConcatSquashLinear",
    "ConditionalAffineStack",
    "ConditionalDiagonalNormal",
    "Coupling",
    "DiagonalNormal",
    "DiagonalScaling",
    "Distribution",
    "Flow",
    "GivensRotation",
    "InverseTransform",
    "InvertibleLinear",
    "MovingBatchNorm",
    "ODENet",
    "ODESolverError",
    "ParametrizedTransform",
    "Permutation",
    "PlanarTransform",
    "RQSplineAutoregressive",
    "RQSplineCoupling",
    "RadialTransform",
    "RandomPermutation",
    "ReversePermutation",
    "SplineOptions",
    "StandardNormal",
    "Transform",
    "alternating_mask",
    "brute_force_logdet",
    "count_nfe",
    "family_defaults",
    "half_mask",
    "make_cnf_flow",
    "make_flow",
    "rational_quadratic_spline",
    "regularization_terms",
    "reset_nfe",
    "standard_normal_log_prob",
]
