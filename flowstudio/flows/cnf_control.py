"""Operations over every CNF inside a model: the RNODE loss terms, solver overrides, NFE counts.

A model (PointFlow, a CNF stack, an ablation) may hold several :class:`~flowstudio.flows.cnf.CNF`
modules; these helpers find them with ``module.modules()`` so that callers need not know where
they sit. Kept apart from :mod:`flowstudio.flows.cnf`, which defines one CNF and its solve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import Tensor, nn

from flowstudio.flows.cnf import CNF

__all__ = ["ACCURATE", "count_nfe", "regularization_terms", "reset_nfe", "solver_override"]


def _cnfs(module: nn.Module) -> list[CNF]:
    return [m for m in module.modules() if isinstance(m, CNF)]


def regularization_terms(module: nn.Module) -> dict[str, Tensor]:
    """``{"kinetic": Σ λ_K·K, "jacobian": Σ λ_J·J}`` over every CNF in ``module`` that ran a
    training-mode forward; add ``sum(terms.values())`` to the loss. Empty when none did."""
    terms: dict[str, Tensor] = {}
    for cnf in _cnfs(module):
        if not cnf.regularization:
            continue
        for name, weight in (("kinetic", cnf.kinetic_weight), ("jacobian", cnf.jacobian_weight)):
            value = weight * cnf.regularization[name]
            terms[name] = terms[name] + value if name in terms else value
    return terms


ACCURATE = {"solver": "dopri5", "atol": 1e-5, "rtol": 1e-5}
"""The common accurate solve (PointFlow's training tolerance) used to score CNFs."""


@contextlib.contextmanager
def solver_override(module: nn.Module, *, max_nfe: int | None = None, **settings: Any) -> Iterator[None]:
    """Solve every CNF in ``module`` with other settings (``solver``, ``atol``, ``rtol``,
    ``step_size``, ``steps``, ``step_power``) for the duration of the block, e.g. ``**ACCURATE``.

    A flow trained with a coarse fixed-step solver is scored with an accurate adaptive
    one this way: its fixed-step log-density is only an estimate of the continuous
    model's, and a model that learned to exploit the discretization shows up as a much
    worse accurate score (Finlay et al. 2020 keep fixed steps honest with RNODE; this
    checks that it did).
    """
    unknown = set(settings) - {"solver", "atol", "rtol", "step_size", "steps", "step_power"}
    if unknown:
        raise ValueError(f"solver_override: unknown settings {sorted(unknown)}")
    cnfs = _cnfs(module)
    saved = [{name: getattr(c, name) for name in (*settings, "max_nfe")} for c in cnfs]
    try:
        for cnf in cnfs:
            for name, value in settings.items():
                setattr(cnf, name, value)
            if max_nfe is not None:
                cnf.max_nfe = int(max_nfe)
        yield
    finally:
        for cnf, old in zip(cnfs, saved, strict=True):
            for name, value in old.items():
                setattr(cnf, name, value)


def count_nfe(module: nn.Module) -> tuple[int, int]:
    """(forward, backward) function evaluations summed over every CNF in ``module``."""
    cnfs = _cnfs(module)
    return sum(c.nfe_forward for c in cnfs), sum(c.nfe_backward for c in cnfs)


def reset_nfe(module: nn.Module) -> None:
    """Zero the NFE counters of every CNF in ``module``."""
    for cnf in _cnfs(module):
        cnf.reset_nfe()
