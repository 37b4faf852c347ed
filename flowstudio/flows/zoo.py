"""Build a ready-to-train flow of any family by name.

``make_flow(name, features, context_features=0, **options)`` returns a
:class:`~flowstudio.flows.flow.Flow` on a standard normal base. ``FAMILIES`` maps each valid
name to a one-line description, and :func:`family_defaults` gives a family's documented
default options:

=========  ===============================================  ======================================
name       layers (data -> noise)                           options (defaults)
=========  ===============================================  ======================================
planar     ``num_layers`` planar maps                       num_layers=16, hidden=32 (context net)
radial     ``num_layers`` radial maps                       num_layers=16, hidden=32 (context net)
nice       additive couplings, alternating masks, then      num_layers=4, hidden=64,
           NICE's diagonal scaling                          num_hidden_layers=2, mask="alternating"
realnvp    affine couplings with alternating masks          num_layers=6, hidden=64,
           (optionally a moving batch norm after each)      num_hidden_layers=2, mask="alternating",
                                                            scale_fn="soft", clamp=3.0,
                                                            batch_norm=False
glow       steps of ActNorm -> LU 1x1 map -> affine         num_layers=4, hidden=64,
           coupling (half mask)                             num_hidden_layers=2, scale_fn="soft",
                                                            clamp=3.0
maf        MADE affine autoregressive layers, the order     num_layers=5, hidden=64,
           reversed in between                              num_hidden_layers=2, clamp=3.0,
                                                            batch_norm=False
iaf        as maf with the directions swapped               as maf
nsf        rational-quadratic spline couplings with         num_layers=6, hidden=64,
           alternating masks (Durkan et al. 2019)           num_hidden_layers=2, mask="alternating",
                                                            bins=8, tail_bound=3.0
nsf_ar     MADE rational-quadratic spline autoregressive    num_layers=5, hidden=64,
           layers, the order reversed in between            num_hidden_layers=2, bins=8,
                                                            tail_bound=3.0
cnf/ffjord continuous flow: see :mod:`flowstudio.flows.cnf` delegated to ``make_cnf_flow``
=========  ===============================================  ======================================

``num_layers`` counts coupling/autoregressive layers or Glow steps. Unknown names or options
raise :class:`~flowstudio.errors.BadInputError` naming the valid choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.flows.core import Compose, Transform
from flowstudio.flows.distributions import StandardNormal
from flowstudio.flows.flow import Flow
from flowstudio.flows.splines import SplineOptions

_SPLINE = SplineOptions()  # the splines' own defaults

FAMILIES: dict[str, str] = {
    "planar": "planar flows (Rezende & Mohamed 2015)",
    "radial": "radial flows (Rezende & Mohamed 2015)",
    "nice": "additive coupling + diagonal scaling (Dinh et al. 2014)",
    "realnvp": "affine coupling with alternating masks (Dinh et al. 2016)",
    "glow": "ActNorm + LU-parametrized 1x1 map + affine coupling (Kingma & Dhariwal 2018)",
    "maf": "masked autoregressive flow (Papamakarios et al. 2017)",
    "iaf": "inverse autoregressive flow (Kingma et al. 2016)",
    "nsf": "rational-quadratic spline coupling (Durkan et al. 2019)",
    "nsf_ar": "rational-quadratic spline autoregressive flow (Durkan et al. 2019)",
    "cnf": "continuous normalizing flow (Chen et al. 2018; Grathwohl et al. 2019)",
    "ffjord": "FFJORD continuous normalizing flow (Grathwohl et al. 2019)",
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "planar": {"num_layers": 16, "hidden": 32},
    "radial": {"num_layers": 16, "hidden": 32},
    "nice": {"num_layers": 4, "hidden": 64, "num_hidden_layers": 2, "mask": "alternating"},
    "realnvp": {
        "num_layers": 6,
        "hidden": 64,
        "num_hidden_layers": 2,
        "mask": "alternating",
        "scale_fn": "soft",
        "clamp": 3.0,
        "batch_norm": False,
    },
    "glow": {"num_layers": 4, "hidden": 64, "num_hidden_layers": 2, "scale_fn": "soft", "clamp": 3.0},
    "maf": {"num_layers": 5, "hidden": 64, "num_hidden_layers": 2, "clamp": 3.0, "batch_norm": False},
    "iaf": {"num_layers": 5, "hidden": 64, "num_hidden_layers": 2, "clamp": 3.0, "batch_norm": False},
    "nsf": {
        "num_layers": 6,
        "hidden": 64,
        "num_hidden_layers": 2,
        "mask": "alternating",
        "bins": _SPLINE.bins,
        "tail_bound": _SPLINE.tail_bound,
    },
    "nsf_ar": {
        "num_layers": 5,
        "hidden": 64,
        "num_hidden_layers": 2,
        "bins": _SPLINE.bins,
        "tail_bound": _SPLINE.tail_bound,
    },
}


def family_defaults(name: str) -> dict[str, Any]:
    """The default options of a discrete family (a copy); CNF defaults live in ``cnf``."""
    _check_name(name)
    if name not in _DEFAULTS:
        raise BadInputError(f"{name!r} takes its options from flowstudio.flows.cnf.make_cnf_flow")
    return dict(_DEFAULTS[name])


def _check_name(name: str) -> None:
    if not isinstance(name, str) or name.lower() not in FAMILIES:
        raise BadInputError(f"unknown flow family {name!r}; choose one of {', '.join(FAMILIES)}")


def _positive_int(options: dict[str, Any], key: str) -> int:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInputError(f"option {key} must be a positive integer, got {value!r}")
    return value


def _choice(options: dict[str, Any], key: str, valid: tuple[str, ...]) -> str:
    value = options[key]
    if value not in valid:
        raise BadInputError(f"option {key} must be one of {', '.join(map(repr, valid))}, got {value!r}")
    return value


def _flag(options: dict[str, Any], key: str) -> bool:
    value = options[key]
    if not isinstance(value, bool):
        raise BadInputError(f"option {key} must be True or False, got {value!r}")
    return value


def _positive_float(options: dict[str, Any], key: str) -> float:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise BadInputError(f"option {key} must be a positive number, got {value!r}")
    return float(value)


def _planar(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.planar import PlanarTransform

    n, hidden = _positive_int(o, "num_layers"), _positive_int(o, "hidden")
    return [PlanarTransform(features, context_features, hidden=hidden) for _ in range(n)]


def _radial(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.planar import RadialTransform

    n, hidden = _positive_int(o, "num_layers"), _positive_int(o, "hidden")
    return [RadialTransform(features, context_features, hidden=hidden) for _ in range(n)]


def _coupling_masks(features: int, context_features: int, o: dict[str, Any], family: str) -> list[Any]:
    from flowstudio.flows.nets import make_mask

    if features < 2 and context_features == 0:
        raise BadInputError(f"{family} needs features >= 2 (a coupling splits the features), got {features}")
    kind = _choice(o, "mask", ("alternating", "half"))
    return [_mask(make_mask(kind, features, i)) for i in range(_positive_int(o, "num_layers"))]


def _mask(mask: Any) -> Any:
    """A 1-D conditional coupling transforms its only feature from the context alone."""
    return mask & False if mask.numel() == 1 else mask


def _nice(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.nice import AdditiveCoupling, DiagonalScaling

    hidden, depth = _positive_int(o, "hidden"), _positive_int(o, "num_hidden_layers")
    layers: list[Transform] = [
        AdditiveCoupling(features, m, context_features, hidden, depth)
        for m in _coupling_masks(features, context_features, o, "nice")
    ]
    return [*layers, DiagonalScaling(features)]


def _realnvp(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.batchnorm import MovingBatchNorm
    from flowstudio.flows.realnvp import SCALE_FUNCTIONS, AffineCoupling

    hidden, depth = _positive_int(o, "hidden"), _positive_int(o, "num_hidden_layers")
    scale_fn, clamp = _choice(o, "scale_fn", SCALE_FUNCTIONS), _positive_float(o, "clamp")
    layers: list[Transform] = []
    for m in _coupling_masks(features, context_features, o, "realnvp"):
        layers.append(AffineCoupling(features, m, context_features, hidden, depth, scale_fn, clamp))
        if _flag(o, "batch_norm"):
            layers.append(MovingBatchNorm(features))
    return layers


def _glow(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.glow import ActNorm, InvertibleLinear
    from flowstudio.flows.nets import half_mask
    from flowstudio.flows.realnvp import SCALE_FUNCTIONS, AffineCoupling

    if features < 2 and context_features == 0:
        raise BadInputError(f"glow needs features >= 2 (a coupling splits the features), got {features}")
    hidden, depth = _positive_int(o, "hidden"), _positive_int(o, "num_hidden_layers")
    scale_fn, clamp = _choice(o, "scale_fn", SCALE_FUNCTIONS), _positive_float(o, "clamp")
    layers: list[Transform] = []
    for i in range(_positive_int(o, "num_layers")):
        layers += [
            ActNorm(features),
            InvertibleLinear(features),
            AffineCoupling(
                features, _mask(half_mask(features, i)), context_features, hidden, depth, scale_fn, clamp
            ),
        ]
    return layers


def _autoregressive(
    features: int, context_features: int, o: dict[str, Any], inverse: bool
) -> list[Transform]:
    from flowstudio.flows.autoregressive import IAF, MAF
    from flowstudio.flows.batchnorm import MovingBatchNorm
    from flowstudio.flows.permutations import ReversePermutation

    cls = IAF if inverse else MAF
    hidden, depth = _positive_int(o, "hidden"), _positive_int(o, "num_hidden_layers")
    clamp = _positive_float(o, "clamp")
    n = _positive_int(o, "num_layers")
    layers: list[Transform] = []
    for i in range(n):
        layers.append(cls(features, context_features, hidden, depth, clamp))
        if _flag(o, "batch_norm") and i < n - 1:
            layers.append(MovingBatchNorm(features))
        if i < n - 1 and features > 1:
            layers.append(ReversePermutation(features))
    return layers


def _spline_options(o: dict[str, Any]) -> dict[str, Any]:
    bins, tail_bound = _positive_int(o, "bins"), _positive_float(o, "tail_bound")
    try:
        spline = SplineOptions(bins, tail_bound)
    except ValueError as err:  # too many bins for the minimum bin size, an infinite bound
        raise BadInputError(f"bad option for a spline flow: {err}") from err
    return {
        "hidden": _positive_int(o, "hidden"),
        "num_hidden_layers": _positive_int(o, "num_hidden_layers"),
        "spline": spline,
    }


def _nsf(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.nsf import RQSplineCoupling

    spline = _spline_options(o)
    return [
        RQSplineCoupling(features, m, context_features, **spline)
        for m in _coupling_masks(features, context_features, o, "nsf")
    ]


def _nsf_ar(features: int, context_features: int, o: dict[str, Any]) -> list[Transform]:
    from flowstudio.flows.nsf import RQSplineAutoregressive
    from flowstudio.flows.permutations import ReversePermutation

    spline, n = _spline_options(o), _positive_int(o, "num_layers")
    layers: list[Transform] = []
    for i in range(n):
        layers.append(RQSplineAutoregressive(features, context_features, **spline))
        if i < n - 1 and features > 1:
            layers.append(ReversePermutation(features))
    return layers


_BUILDERS: dict[str, Callable[[int, int, dict[str, Any]], list[Transform]]] = {
    "planar": _planar,
    "radial": _radial,
    "nice": _nice,
    "realnvp": _realnvp,
    "glow": _glow,
    "maf": lambda f, c, o: _autoregressive(f, c, o, inverse=False),
    "iaf": lambda f, c, o: _autoregressive(f, c, o, inverse=True),
    "nsf": _nsf,
    "nsf_ar": _nsf_ar,
}


def make_flow(name: str, features: int, context_features: int = 0, **options: Any) -> Flow:
    """A flow of family ``name`` over ``features`` values, conditional when ``context_features > 0``.

    Args:
        name: one of :data:`FAMILIES` (case-insensitive).
        features: size of the data vectors (the last axis), >= 1.
        context_features: size of the conditioning vector; 0 for an unconditional flow.
        **options: family options, see the module docstring; unknown ones are an error.

    Raises:
        BadInputError: an unknown family or option, or an invalid value.
    """
    _check_name(name)
    name = name.lower()
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise BadInputError(f"features must be a positive integer, got {features!r}")
    if isinstance(context_features, bool) or not isinstance(context_features, int) or context_features < 0:
        raise BadInputError(f"context_features must be an integer >= 0, got {context_features!r}")
    if name in ("cnf", "ffjord"):
        from flowstudio.flows.cnf import make_cnf_flow

        try:
            return make_cnf_flow(features, context_features, **options)
        except TypeError as err:  # an unknown keyword
            if "argument" not in str(err):
                raise
            raise BadInputError(f"bad option for flow family {name!r}: {err}") from err
        except ValueError as err:
            if isinstance(err, BadInputError):
                raise
            raise BadInputError(f"bad option for flow family {name!r}: {err}") from err
    defaults = _DEFAULTS[name]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise BadInputError(
            f"unknown option(s) {', '.join(unknown)} for flow family {name!r}; "
            f"valid options: {', '.join(sorted(defaults))}"
        )
    merged = {**defaults, **options}
    layers = _BUILDERS[name](features, context_features, merged)
    return Flow(Compose(*layers), StandardNormal(features))
