"""The ring check: a chemistry check at generation beyond GraphAF's valency check.

GraphAF's valency check (Shi et al. 2020, §3.3) redraws a bond that would break a valence;
nothing stops a bond that closes a 4-, 9- or 15-membered ring, and an under-trained model
closes many (cyclooctatetraenes, macrocycles). The ring check redraws such a bond the same
way: a bond between atoms at distance ``d`` in the partial graph closes a ring of ``d + 1``
atoms (:mod:`flowstudio.molecules.ring_features`), and it is redrawn when that size is not
allowed. Molecules that needed it count against "validity without check".

What it guarantees: no ring larger than the largest allowed size (a later bond across a
ring only splits it into smaller ones: the smallest set of smallest rings of the final
molecule has no ring larger than the largest ring any of its bonds closed). A disallowed
size *below* the largest allowed one can still arise as the second ring of a bridged
system (a chord across an allowed ring), so allowed sets without gaps are exact.

The default allowed sizes (:func:`allowed_ring_sizes`): 3, 5, 6 and 7, the common rings of
drug-like molecules, plus every size that at least :data:`MIN_SHARE` of the training
molecules hold (MOSES: 4 as well; one stray macrocycle does not open the door to all).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.molecules.ring_features import FAR

DEFAULT_RING_SIZES: tuple[int, ...] = (3, 5, 6, 7)
"""Ring sizes always allowed by default."""
MIN_SHARE = 0.001
"""A ring size of the training data is allowed when at least this share of its molecules hold one."""


def allowed_ring_sizes(molecule_ring_sizes: Sequence[Iterable[int]]) -> tuple[int, ...]:
    """The default allowed sizes for training molecules given by their ring sizes (one
    iterable per molecule, e.g. :func:`flowstudio.molecules.rings.ring_sizes` of each)."""
    counts: dict[int, int] = {}
    for sizes in molecule_ring_sizes:
        for size in set(sizes):
            counts[size] = counts.get(size, 0) + 1
    total = max(1, len(molecule_ring_sizes))
    frequent = {size for size, count in counts.items() if count / total >= MIN_SHARE}
    return tuple(sorted(set(DEFAULT_RING_SIZES) | frequent))


def parse_ring_sizes(text: str) -> tuple[int, ...] | None:
    """Ring sizes from text such as ``"3,5-7"``; ``"any"`` means no ring check (``None``)."""
    text = text.strip().lower()
    if text == "any":
        return None
    sizes: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi or lo)
            if not 3 <= first <= last <= 100:
                raise ValueError(part)
            sizes.update(range(first, last + 1))
    except ValueError:
        raise BadInputError(
            f"ring sizes {text!r}: give sizes of 3 to 100 atoms such as '3,5-7', or 'any'"
        ) from None
    if not sizes:
        raise BadInputError("ring sizes: give at least one size such as '5-6', or 'any' for no ring check")
    return tuple(sorted(sizes))


def format_ring_sizes(sizes: Sequence[int] | None) -> str:
    """The text form :func:`parse_ring_sizes` reads (``"any"`` for ``None``)."""
    if sizes is None:
        return "any"
    parts, sizes = [], sorted(sizes)
    start = prev = sizes[0]
    for size in [*sizes[1:], None]:
        if size is not None and size == prev + 1:
            prev = size
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if size is not None:
            start = prev = size
    return ",".join(parts)


class RingCheck:
    """Which bond closures are allowed, as a lookup by the distance of the bond's atoms."""

    def __init__(self, sizes: Sequence[int], max_atoms: int, device: torch.device) -> None:
        allowed = torch.zeros(max_atoms + 2, dtype=torch.bool, device=device)
        for size in sizes:
            if 3 <= size <= max_atoms:
                allowed[size - 1] = True
        allowed[-1] = True  # not connected: the bond closes no ring
        self.allowed = allowed

    def forbids(self, distance: Tensor) -> Tensor:
        """Whether a bond between atoms at ``distance`` (:data:`FAR`: not connected) would
        close a ring of a size that is not allowed."""
        last = self.allowed.numel() - 1
        index = torch.where(distance >= FAR, last, distance.clamp(max=last - 1))
        return ~self.allowed[index]
