"""Why GraphAF generation draws a whole molecule again: the one record of the reasons.

:func:`flowstudio.molecules.generate.generate` draws a molecule again, with the checks on,
when it was cut at the size cap, ended by a bondless new atom, has ring types that
disagree with its rings, has a hydrogen on a hypervalent atom, or has a ring system that no
training molecule has; each reason is turned on by one of the run's settings.
:class:`~flowstudio.molecules.generated.Generated` counts the molecules each reason drew
again, and every place that reports them (the comment lines and the sentence of
``mols sample``, the window's generation summary, the keys ``mols eval`` passes through)
iterates over :data:`REDRAW_REASONS`, so that they name the same reasons in the same order.

Free of RDKit, NumPy and PyTorch: the CLI imports it while it builds its parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

__all__ = [
    "BONDLESS", "CUT_AT_CAP", "HYPERVALENT_H", "REDRAW_REASONS", "RING_TYPES", "UNSEEN_RING_SYSTEM",
    "RedrawReason",
]


@dataclass(frozen=True)
class RedrawReason:
    """One reason to draw a molecule again, and the names it is reported under.

    ``key`` names its share in the samples file (``# key: 0.0400``) and in ``mols eval``'s
    JSON; ``label`` in the window's generation summary; ``phrase`` follows the share in the
    sentence ``mols sample`` prints. ``setting`` is the attribute of the model
    (:class:`~flowstudio.molecules.graphaf.GraphAF`, a dotted path) that holds the run's
    setting turning it on. The samples file has a reason's line only when the run asks for
    it: a share of 0 from a run that keeps its cut molecules would read as "none was cut".
    """

    key: str
    label: str
    phrase: str
    setting: str

    def wanted(self, model: Any) -> bool:
        """Whether ``model``'s run asks for this redraw (it happens only with the checks)."""
        return bool(attrgetter(self.setting)(model))


CUT_AT_CAP = RedrawReason(
    "cut_at_cap_redrawn", "cut at the size cap, drawn again", "cut and drawn again", "redraw_cut"
)
"""A molecule that reached ``max_atoms`` and would have gone on (the run's ``redraw_cut``)."""

BONDLESS = RedrawReason(
    "bondless_redrawn", "ended by a bondless atom, drawn again", "ended by a bondless atom and drawn again",
    "redraw_bondless",
)
"""A molecule that GraphAF's rule ended at a new atom with no bond (``redraw_bondless``)."""

RING_TYPES = RedrawReason(
    "ring_types_redrawn", "rings unlike their types, drawn again",
    "with rings unlike their types drawn again", "vocab.ring_types",
)
"""A molecule whose ring types disagree with its rings (a run with ``ring_types``): a ring
begun and never closed, or (``aromatic_types``) an aromatic type whose ring is not aromatic."""

HYPERVALENT_H = RedrawReason(
    "hypervalent_h_redrawn", "hydrogen on a hypervalent atom, drawn again",
    "with a hydrogen on a hypervalent atom drawn again", "redraw_hypervalent",
)
"""A molecule with a hydrogen on an atom above its lowest valence, such as a λ4-sulfane
``[SH]`` (the run's ``redraw_hypervalent``)."""

UNSEEN_RING_SYSTEM = RedrawReason(
    "unseen_ring_system_redrawn", "a ring system the data lacks, drawn again",
    "with a ring system the training data lacks drawn again", "redraw_unseen_rings",
)
"""A molecule with a ring system (rings joined by shared atoms) of a kind that no training
molecule holds (the run's ``redraw_unseen_rings``)."""

REDRAW_REASONS = (CUT_AT_CAP, BONDLESS, RING_TYPES, HYPERVALENT_H, UNSEEN_RING_SYSTEM)
"""Every reason, in the order they are reported."""
